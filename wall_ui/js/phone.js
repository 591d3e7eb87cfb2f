// The phone view: newest first, live, "load older" from the history, a polite live region
// that sums up arrivals instead of reading every post aloud.
import { applyBranding, applyTheme, hashtagsText, loadConfig, logoImage } from "./branding.js";
import { Feed } from "./feed.js";
import { currentLanguage, t } from "./i18n.js";
import { startSavedFeed } from "./offline.js";
import { el, renderPost, updateShares } from "./render.js";
import { refreshTimes } from "./time.js";

const MAX_CARDS = 500;
const PAGE = 20;
// A screen reader hears at most one summary per this many milliseconds.
const ANNOUNCE_MS = 5000;
const TIMES_MS = 60 * 1000;

const $ = (id) => document.getElementById(id);
const body = document.body;
const list = $("posts");
const olderButton = $("older");
const toTop = $("to-top");
const live = $("live");
const cards = new Map();
let lang = currentLanguage();
let unseen = 0;
let unannounced = 0;
let announceTimer = null;

function texts() {
  $("posts-title").textContent = t("posts");
  olderButton.textContent = t("older");
  $("offline").textContent = t("offline");
}

function card(post) {
  const node = renderPost(post, { lang });
  cards.set(post.id, node);
  return node;
}

function drop(node) {
  cards.delete(node.dataset.id);
  node.remove();
}

function announce() {
  unannounced += 1;
  if (announceTimer !== null) return;
  announceTimer = setTimeout(() => {
    live.textContent = t("newPosts", { n: unannounced });
    unannounced = 0;
    announceTimer = null;
  }, ANNOUNCE_MS);
}

function showOlderButton() {
  olderButton.hidden = list.childElementCount === 0 || list.childElementCount >= MAX_CARDS;
  $("end").hidden = true;
}

function reset(posts) {
  cards.clear();
  list.replaceChildren(...posts.map(card));
  list.setAttribute("aria-busy", "false");
  showOlderButton();
}

function show(post) {
  if (cards.has(post.id)) return;
  const node = card(post);
  node.classList.add("arriving");
  list.prepend(node);
  while (list.childElementCount > MAX_CARDS) drop(list.lastElementChild);
  showOlderButton();
  announce();
  if (window.scrollY > 200) {
    unseen += 1;
    toTop.textContent = `↑ ${t("newPosts", { n: unseen })}`;
    toTop.hidden = false;
  }
}

function retract(id) {
  const node = cards.get(id);
  if (node) drop(node);
}

function feature(featured) {
  const box = $("featured");
  if (!featured) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const label = el("p", "featured-label",
    t(featured.reason === "pinned" ? "featured" : "announcement"));
  box.replaceChildren(label, renderPost(featured.post, { lang }));
  box.hidden = false;
}

async function loadOlder() {
  const last = list.lastElementChild;
  if (!last || olderButton.disabled) return;
  olderButton.disabled = true;
  olderButton.textContent = t("loading");
  list.setAttribute("aria-busy", "true");
  try {
    const query = new URLSearchParams({ status: "approved", limit: String(PAGE),
      before: last.dataset.id });
    const response = await fetch(`/api/posts?${query}`);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const { posts, shares = {} } = await response.json();
    for (const post of posts) {
      if (Number.isInteger(shares[post.id])) post.shares = shares[post.id];
      if (!cards.has(post.id) && list.childElementCount < MAX_CARDS) list.append(card(post));
    }
    olderButton.textContent = t("older");
    if (posts.length < PAGE) {
      olderButton.hidden = true;
      $("end").textContent = t("noOlder");
      $("end").hidden = false;
    } else {
      showOlderButton();
    }
  } catch {
    olderButton.textContent = t("olderFailed");
  } finally {
    olderButton.disabled = false;
    list.setAttribute("aria-busy", "false");
  }
}

olderButton.addEventListener("click", loadOlder);
toTop.addEventListener("click", () => {
  window.scrollTo({ top: 0, behavior: "smooth" });
});
window.addEventListener("scroll", () => {
  if (window.scrollY < 100 && !toTop.hidden) {
    unseen = 0;
    toTop.hidden = true;
  }
}, { passive: true });

texts();
const feed = new Feed({
  keep: 200,
  onReset: reset,
  onShow: show,
  onRetract: retract,
  onFeature: feature,
  onTheme: (name) => applyTheme(name),
  onShares: (id, count) => updateShares(body, id, count),
  onPause(paused) {
    body.dataset.paused = String(paused);
  },
});
// What the page showed before a reload, so a reload while offline shows the same posts.
// The socket opens at once; the branding follows when it comes (the page's language is
// already right: the server writes it into the HTML).
startSavedFeed("phone", feed, { limit: 100, offline: $("offline") });
setInterval(() => refreshTimes(document.body, lang), TIMES_MS);

loadConfig().then((config) => {
  applyBranding(config);
  lang = currentLanguage();
  texts();
  $("title").textContent = config.title;
  $("tags").textContent = hashtagsText(config);
  const logo = logoImage(config);
  if (logo) $("brand").prepend(logo);
});
