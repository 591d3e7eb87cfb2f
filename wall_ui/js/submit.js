// "Post to the wall" on the phone view: a display name kept on the device, a text with its
// limit shown as you type, an optional photo (camera or gallery). A post is sent with an
// idempotency key that every retry reuses, so bad venue wifi never makes two posts; then
// its state (waiting, shown, not shown) is followed live, and it can be withdrawn while it
// waits. User text reaches the page through textContent only.
import { currentLanguage } from "./i18n.js";
import { newRef } from "./outbox.js";

const TEXTS = {
  fr: {
    open: "Publier sur le mur",
    close: "Fermer",
    heading: "Publier sur le mur",
    name: "Votre nom",
    text: "Votre message",
    count: "{n} / {max}",
    camera: "Prendre une photo",
    gallery: "Choisir une photo",
    removePhoto: "Retirer la photo",
    send: "Envoyer",
    sending: "Envoi…",
    retrying: "Connexion difficile, nouvel essai…",
    failed: "Envoi impossible. Touchez « Envoyer » pour réessayer.",
    closed: "Les publications depuis la salle sont fermées pour le moment.",
    slowDown: "Doucement : réessayez dans {n} s.",
    mine: "Mes publications",
    waiting: "En attente de modération",
    shown: "Affichée sur le mur",
    not_shown: "Non affichée",
    withdrawn: "Retirée",
    withdraw: "Retirer",
    hint: "Un modérateur relit chaque message avant qu'il n'apparaisse.",
  },
  en: {
    open: "Post to the wall",
    close: "Close",
    heading: "Post to the wall",
    name: "Your name",
    text: "Your message",
    count: "{n} / {max}",
    camera: "Take a photo",
    gallery: "Choose a photo",
    removePhoto: "Remove the photo",
    send: "Send",
    sending: "Sending…",
    retrying: "Poor connection, trying again…",
    failed: "Could not send. Tap “Send” to try again.",
    closed: "Posting from the room is closed for now.",
    slowDown: "Slow down: try again in {n} s.",
    mine: "My posts",
    waiting: "Waiting for a moderator",
    shown: "Shown on the wall",
    not_shown: "Not shown",
    withdrawn: "Withdrawn",
    withdraw: "Withdraw",
    hint: "A moderator reads every message before it appears.",
  },
};
const NAME_KEY = "hashwall.name";
const SENT_KEY = "hashwall.sent";
const KEEP = 10;
// Tries of one send on a failing network, and the waits between them (ms).
const RETRIES = [1000, 2000, 4000, 8000];
const FOLLOW_MS = 3000;

function t(key, values = {}) {
  const lang = currentLanguage() in TEXTS ? currentLanguage() : "en";
  return TEXTS[lang][key].replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function load(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key) ?? "null") ?? fallback;
  } catch {
    return fallback;
  }
}

function store(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Private browsing may refuse storage: the form still works for this visit.
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Code points, as the server counts them.
const length = (text) => [...text.trim()].length;

class SubmitForm {
  constructor(root, limits) {
    this.limits = limits;
    this.sent = load(SENT_KEY, []).filter((s) => s && typeof s.id === "string");
    this.attempt = null; // { key, text, name }: what a retry sends again
    this.followTimer = null;
    this.build(root);
    this.renderSent();
    this.follow();
  }

  build(root) {
    this.opener = el("button", "submit-open", t("open"));
    this.opener.type = "button";
    this.opener.setAttribute("aria-expanded", "false");
    this.panel = el("section", "submit-panel");
    this.panel.id = "submit-panel";
    this.panel.hidden = true;
    this.panel.setAttribute("aria-labelledby", "submit-heading");
    this.opener.setAttribute("aria-controls", this.panel.id);
    const heading = el("h2", "submit-heading", t("heading"));
    heading.id = "submit-heading";
    this.closer = el("button", "submit-close", "×");
    this.closer.type = "button";
    this.closer.setAttribute("aria-label", t("close"));
    this.form = el("form", "submit-form");
    this.form.noValidate = true;
    this.name = this.field("input", "submit-name", t("name"));
    this.name.autocomplete = "nickname";
    this.name.maxLength = this.limits.max_name_chars;
    this.name.value = load(NAME_KEY, "") || "";
    this.text = this.field("textarea", "submit-text", t("text"));
    this.text.rows = 4;
    this.count = el("p", "submit-count");
    this.count.id = "submit-count";
    this.count.setAttribute("aria-live", "polite");
    this.text.setAttribute("aria-describedby", "submit-count");
    const photos = el("div", "submit-photos");
    this.camera = this.fileButton(photos, t("camera"), true);
    this.gallery = this.fileButton(photos, t("gallery"), false);
    this.preview = el("p", "submit-preview");
    this.preview.hidden = true;
    this.previewName = el("span", "submit-preview-name");
    const remove = el("button", "submit-remove", t("removePhoto"));
    remove.type = "button";
    remove.addEventListener("click", () => this.setPhoto(null));
    this.preview.append(this.previewName, remove);
    this.sendButton = el("button", "submit-send", t("send"));
    this.sendButton.type = "submit";
    this.message = el("p", "submit-message");
    this.message.setAttribute("role", "status");
    this.form.append(this.labelled(this.name, t("name")), this.labelled(this.text, t("text")),
      this.count, photos, this.preview, this.sendButton, this.message,
      el("p", "submit-hint", t("hint")));
    this.mineTitle = el("h3", "submit-mine-title", t("mine"));
    this.mine = el("ul", "submit-mine");
    this.panel.append(this.closer, heading, this.form, this.mineTitle, this.mine);
    root.append(this.opener, this.panel);

    this.photo = null;
    this.opener.addEventListener("click", () => this.toggle(true));
    this.closer.addEventListener("click", () => this.toggle(false));
    this.text.addEventListener("input", () => this.counted());
    this.name.addEventListener("change", () => store(NAME_KEY, this.name.value.trim()));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.counted();
    this.applyOpen();
  }

  field(tag, id) {
    const node = document.createElement(tag);
    node.id = id;
    node.name = id.replace("submit-", "");
    return node;
  }

  labelled(input, text) {
    const label = el("label", "submit-label");
    label.append(el("span", "submit-label-text", text), input);
    return label;
  }

  fileButton(parent, text, camera) {
    const label = el("label", "submit-file");
    const input = document.createElement("input");
    input.type = "file";
    input.accept = "image/*";
    // The camera button opens the camera; the other one the gallery (or the files).
    if (camera) input.setAttribute("capture", "environment");
    input.className = "submit-file-input";
    input.addEventListener("change", () => this.setPhoto(input.files?.[0] ?? null));
    label.append(input, el("span", "", text));
    parent.append(label);
    return input;
  }

  setPhoto(file) {
    if (file && file.size > this.limits.max_photo_bytes) {
      this.say(`${file.name}: > ${Math.round(this.limits.max_photo_bytes / 1e6)} MB`, true);
      file = null;
    }
    this.photo = file;
    this.attempt = null; // another photo is another post
    this.camera.value = "";
    this.gallery.value = "";
    this.preview.hidden = !file;
    this.previewName.textContent = file ? file.name : "";
  }

  toggle(open) {
    this.panel.hidden = !open;
    this.opener.setAttribute("aria-expanded", String(open));
    if (open) {
      (this.name.value ? this.text : this.name).focus();
      refreshLimits().then((limits) => {
        if (limits) {
          this.limits = limits;
          this.applyOpen();
        }
      });
    }
  }

  applyOpen() {
    const open = this.limits.open;
    this.sendButton.disabled = !open;
    document.body.dataset.submissions = open ? "open" : "closed";
    if (!open) this.say(t("closed"), true);
    else if (this.message.dataset.kind === "closed") this.say("");
    this.message.dataset.kind = open ? "" : "closed";
  }

  counted() {
    const n = length(this.text.value);
    this.count.textContent = t("count", { n, max: this.limits.max_chars });
    this.count.classList.toggle("over", n > this.limits.max_chars);
  }

  say(text, problem = false) {
    this.message.textContent = text;
    this.message.classList.toggle("problem", problem);
  }

  async submit() {
    const name = this.name.value.trim();
    const text = this.text.value.trim();
    if (!name) return this.name.focus();
    if (!text || length(text) > this.limits.max_chars) return this.text.focus();
    store(NAME_KEY, name);
    // The same words sent again after a failure are the same post: reuse the key.
    if (!this.attempt || this.attempt.text !== text || this.attempt.name !== name) {
      this.attempt = { key: newRef(), text, name };
    }
    const form = new FormData();
    form.append("name", name);
    form.append("text", text);
    if (this.photo) form.append("photo", this.photo, this.photo.name || "photo.jpg");
    this.sendButton.disabled = true;
    this.say(t("sending"));
    try {
      const answer = await this.send(form, this.attempt.key);
      if (answer) this.accepted(answer, text);
    } finally {
      this.sendButton.disabled = !this.limits.open;
    }
  }

  async send(form, key) {
    for (let attempt = 0; ; attempt += 1) {
      let response = null;
      try {
        response = await fetch("/api/submissions", {
          method: "POST", body: form, headers: { "Idempotency-Key": key },
          credentials: "same-origin",
        });
      } catch {
        response = null; // the network failed: the post may or may not have arrived
      }
      if (response && (response.status < 500 || response.status === 501)) {
        const body = await response.json().catch(() => ({}));
        if (response.status === 202) return body;
        this.refused(response, body);
        return null;
      }
      if (attempt >= RETRIES.length) {
        this.say(t("failed"), true);
        return null;
      }
      this.say(t("retrying"));
      await sleep(RETRIES[attempt]);
    }
  }

  refused(response, body) {
    if (body.code === "closed") {
      this.limits = { ...this.limits, open: false };
      this.applyOpen();
    } else if (response.status === 429) {
      this.say(t("slowDown", { n: body.retry_after ?? response.headers.get("Retry-After") }), true);
    } else {
      this.say(String(body.error || response.statusText), true);
    }
  }

  accepted(answer, text) {
    this.attempt = null;
    this.text.value = "";
    this.setPhoto(null);
    this.counted();
    this.say("");
    this.sent = [{ id: answer.id, token: answer.token, text, state: answer.state },
      ...this.sent.filter((s) => s.id !== answer.id)].slice(0, KEEP);
    this.save();
    this.renderSent();
    this.follow();
  }

  save() {
    store(SENT_KEY, this.sent);
  }

  renderSent() {
    this.mine.replaceChildren();
    this.mineTitle.hidden = this.sent.length === 0;
    for (const sent of this.sent) {
      const item = el("li", "submit-sent");
      item.dataset.id = sent.id;
      item.dataset.state = sent.state;
      item.append(el("p", "submit-sent-text", sent.text));
      const state = el("p", "submit-state", t(sent.state) ?? sent.state);
      item.append(state);
      if (sent.state === "waiting") {
        const withdraw = el("button", "submit-withdraw", t("withdraw"));
        withdraw.type = "button";
        withdraw.addEventListener("click", () => this.withdraw(sent));
        item.append(withdraw);
      }
      this.mine.append(item);
    }
  }

  update(sent, state) {
    if (!state || sent.state === state) return;
    sent.state = state;
    this.save();
    this.renderSent();
  }

  async withdraw(sent) {
    try {
      const response = await fetch(`/api/submissions/${encodeURIComponent(sent.id)}`, {
        method: "DELETE", headers: { Authorization: `Bearer ${sent.token}` },
      });
      const body = await response.json().catch(() => ({}));
      this.update(sent, body.state);
    } catch {
      this.say(t("failed"), true);
    }
  }

  // Follow every waiting post until a moderator decides; stop when none waits.
  follow() {
    if (this.followTimer !== null) return;
    const tick = async () => {
      this.followTimer = null;
      const waiting = this.sent.filter((s) => s.state === "waiting");
      for (const sent of waiting) {
        try {
          const response = await fetch(`/api/submissions/${encodeURIComponent(sent.id)}`, {
            headers: { Authorization: `Bearer ${sent.token}` }, cache: "no-store",
          });
          if (response.ok) this.update(sent, (await response.json()).state);
        } catch {
          // Offline for a moment: the next tick asks again.
        }
      }
      if (this.sent.some((s) => s.state === "waiting")) {
        this.followTimer = setTimeout(tick, FOLLOW_MS);
      }
    };
    this.followTimer = setTimeout(tick, 0);
  }
}

async function refreshLimits() {
  try {
    const response = await fetch("/api/submissions", { cache: "no-store" });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

// Hooked from phone.js: show the form when the server takes posts from phones.
export async function startSubmit(root) {
  const limits = await refreshLimits();
  if (!limits || !limits.enabled) return null;
  return new SubmitForm(root, limits);
}
