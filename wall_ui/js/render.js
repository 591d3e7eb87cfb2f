// Builds a post's DOM with textContent and DOM APIs only: user content is never HTML.
import { t } from "./i18n.js";
import { relativeTime } from "./time.js";

// Only absolute http(s) addresses become links or image sources; anything else is text.
export function safeUrl(value) {
  if (typeof value !== "string" || value === "") return null;
  try {
    // Photos sent from phones are served by hashwall itself, under /photos/.
    const url = value.startsWith("/photos/") ? new URL(value, location.origin) : new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function link(href, text) {
  const url = safeUrl(href);
  if (!url) return el("span", "entity url", text);
  const a = el("a", "entity url", text);
  a.href = url;
  a.rel = "noopener noreferrer nofollow";
  a.target = "_blank";
  return a;
}

// A Mastodon custom emoji: its image, or its `:shortcode:` when the image cannot show.
function emoji(href, text) {
  const src = safeUrl(href);
  if (!src) return el("span", "entity emoji", text);
  const img = el("img", "emoji");
  img.src = src;
  img.alt = text;
  img.title = text;
  img.addEventListener("error", () => img.replaceWith(el("span", "entity emoji", text)));
  return img;
}

const MEDIA_LINK = /^https:\/\/(?:twitter|x)\.com\/[^/]+\/status\/\d+\/(?:photo|video)\/\d+$/;

function str(value) {
  return typeof value === "string" ? value : "";
}

export const DISPLAY_MAX = 1500;

// Entity offsets count code points, so the text is split as an array of code points.
export function renderText(post, className = "text") {
  const box = el("p", className);
  box.dir = "auto";
  const lang = str(post.lang);
  if (/^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(lang) && lang !== "und") box.lang = lang;
  // A card shows at most DISPLAY_MAX code points: no screen reads further, and laying out
  // a single word of tens of thousands of letters froze Chromium for a minute.
  const all = Array.from(str(post.text));
  const chars = all.length > DISPLAY_MAX ? [...all.slice(0, DISPLAY_MAX - 1), "…"] : all;
  const shown = all.length > DISPLAY_MAX ? DISPLAY_MAX - 1 : all.length;
  const spans = (Array.isArray(post.entities) ? post.entities : [])
    .filter((s) => s && Number.isInteger(s.start) && Number.isInteger(s.end))
    .sort((a, b) => a.start - b.start);
  const hasMedia = Array.isArray(post.media) && post.media.length > 0;
  let at = 0;
  for (const span of spans) {
    if (span.start < at || span.end > shown || span.end <= span.start) continue;
    box.append(chars.slice(at, span.start).join(""));
    const text = chars.slice(span.start, span.end).join("");
    at = span.end;
    // X appends a link to the post's own photo: the photo is on the card already.
    if (span.type === "url" && hasMedia && MEDIA_LINK.test(str(span.url))) continue;
    const node = span.type === "url" ? link(span.url || text, str(span.display) || text)
      : span.type === "emoji" ? emoji(span.url, text)
      : el("span", `entity ${span.type === "hashtag" ? "hashtag" : "mention"}`, text);
    node.dir = "auto"; // "#tag" stays "#tag" inside right-to-left text
    box.append(node);
  }
  box.append(chars.slice(at).join(""));
  box.normalize();
  if (box.lastChild && box.lastChild.nodeType === Node.TEXT_NODE) {
    box.lastChild.textContent = box.lastChild.textContent.trimEnd();
  }
  return box;
}

// A hue picked from the handle, so a missing avatar still tells authors apart.
function hue(text) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

export function renderAvatar(author) {
  const box = el("span", "avatar");
  const label = str(author.name) || str(author.handle) || "?";
  box.dataset.initial = Array.from(label.trim())[0] || "?";
  box.textContent = box.dataset.initial;
  box.style.setProperty("--avatar-hue", String(hue(str(author.handle) || label)));
  const src = safeUrl(author.avatar_url);
  if (src) {
    const img = el("img");
    img.alt = "";
    img.loading = "lazy";
    img.decoding = "async";
    img.referrerPolicy = "no-referrer";
    // A broken avatar leaves the initial in place, never a hole.
    img.addEventListener("error", () => img.remove(), { once: true });
    img.src = src;
    box.append(img);
  }
  return box;
}

// The event's logo signs its announcements (GET /api/config `logo_url`).
let eventLogo = "/static/img/hashwall.svg";

export function useLogo(url) {
  const local = typeof url === "string" && url.startsWith("/") && !url.startsWith("//");
  eventLogo = local ? url : safeUrl(url) || "/static/img/hashwall.svg";
}

function logoAvatar() {
  const box = el("span", "avatar logo-avatar");
  const img = el("img");
  img.alt = "";
  img.addEventListener("error", () => img.remove(), { once: true });
  img.src = eventLogo;
  box.append(img);
  return box;
}

// The demo's bundled photos, by the X address they stand in for (GET /api/config `photos`).
let localPhotos = {};

export function usePhotos(map) {
  localPhotos = map && typeof map === "object" ? map : {};
}

function photoSource(value) {
  const local = typeof value === "string" && Object.hasOwn(localPhotos, value)
    ? localPhotos[value] : null;
  if (typeof local === "string" && /^\/demo\/photos\/[a-z-]+\.jpg$/.test(local)) return local;
  return safeUrl(value);
}

function renderMedia(post, limit, eager = false) {
  const gallery = el("div", "gallery");
  for (const media of (Array.isArray(post.media) ? post.media : []).slice(0, limit)) {
    if (!media) continue;
    const src = photoSource(media.type === "photo" ? media.url || media.preview_url
      : media.preview_url);
    if (!src) continue;
    const img = el("img", "media");
    img.alt = str(media.alt_text);
    // The wall loads its few images at once, even hidden ones (a card whose text took the
    // image's room), so that a broken one is found and removed; lists load them lazily.
    img.loading = eager ? "eager" : "lazy";
    // Known dimensions reserve the space before the image arrives: no jump on slow links.
    if (media.type === "photo" && Number.isInteger(media.width) && Number.isInteger(media.height)
      && media.width > 0 && media.height > 0) {
      img.width = media.width;
      img.height = media.height;
    }
    img.decoding = "async";
    img.referrerPolicy = "no-referrer";
    img.addEventListener("load", () => img.classList.add("loaded"), { once: true });
    img.addEventListener("error", () => {
      img.remove();
      if (!gallery.firstChild) gallery.remove(); // a broken image never leaves a hole
    }, { once: true });
    img.src = src;
    gallery.append(img);
  }
  return gallery.firstChild ? gallery : null;
}

// How many retweets counted toward a post, in its meta line: "♻ 7", "♻ 20+". The server
// sends exact counts below 10 and round steps above (docs/protocol.md, share counts).
export function showShares(card, count, meta = card.querySelector(".author .meta")) {
  if (!meta || !Number.isInteger(count) || count <= 0) return;
  const shown = count >= 10 ? `${count}+` : String(count);
  let node = meta.querySelector(":scope > .shares");
  if (!node) node = meta.appendChild(el("span", "shares"));
  node.textContent = `♻ ${shown}`;
  node.setAttribute("aria-label", t("shares", { n: shown }));
}

// Every card of post `id` under `root` (a list, the featured place) shows the new count.
export function updateShares(root, id, count) {
  for (const card of root.querySelectorAll(".post")) {
    if (card.dataset.id === id) showShares(card, count);
  }
}

const NETWORKS = { x: "X", mastodon: "Mastodon", bluesky: "Bluesky" };

// The small badge naming where a post comes from; null for announcements and the unknown.
export function networkBadge(network) {
  const onsite = network === "onsite";
  const name = onsite ? t("onsite") : NETWORKS[network];
  if (!name) return null;
  const badge = el("span", `network network-${network}`, name);
  if (!onsite) badge.setAttribute("aria-label", t("network", { name }));
  return badge;
}

// The card of one post. Options: `lang` for the relative time, `media` how many images.
export function renderPost(post, options = {}) {
  const { lang = document.documentElement.lang || "en", media = 4, eager = false } = options;
  const card = el("article", "post");
  card.dataset.id = str(post.id);
  if (post.kind === "announcement") card.classList.add("announcement");
  const author = post.author && typeof post.author === "object" ? post.author : {};
  const head = el("header", "author");
  // An announcement is the organiser's voice: the event's logo and name, no handle.
  const announcement = post.kind === "announcement";
  head.append(announcement ? logoAvatar() : renderAvatar(author));
  const who = el("span", "who");
  who.append(el("bdi", "name", str(author.name) || str(author.handle)));
  const meta = el("span", "meta");
  const network = networkBadge(post.network);
  if (network) meta.append(network);
  // Handles come in the network's own form (ada, ada@mastodon.social, ada.bsky.social);
  // pages add the "@". Posts sent from the room have a name, no handle.
  if (str(author.handle) && post.network !== "onsite" && !announcement) {
    meta.append(el("bdi", "handle", `@${author.handle}`));
  }
  const created = str(post.created_at);
  if (created && !Number.isNaN(Date.parse(created))) {
    const time = el("time", "ago", relativeTime(created, lang));
    time.dateTime = created;
    meta.append(time);
  }
  who.append(meta);
  showShares(card, post.shares, meta);
  head.append(who);
  card.append(head);
  card.append(renderText(post));
  const quoted = post.referenced;
  if (quoted && typeof quoted === "object" && post.kind === "quote") {
    const box = el("blockquote", "quoted");
    const quotedAuthor = quoted.author && typeof quoted.author === "object" ? quoted.author : {};
    box.append(el("bdi", "name", str(quotedAuthor.name) || str(quotedAuthor.handle)));
    box.append(renderText(quoted));
    card.append(box);
  }
  const gallery = media > 0 ? renderMedia(post, media, eager) : null;
  if (gallery) card.append(gallery);
  return card;
}
