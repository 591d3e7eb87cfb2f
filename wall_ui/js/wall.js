// The projector wall: header with title, hashtags and QR code; a featured place; a few
// cards that change calmly. One clock drives everything, so no timer can pile up.
import { applyBranding, applyTheme, hashtagsText, loadConfig, logoImage } from "./branding.js";
import { Feed } from "./feed.js";
import { currentLanguage, t } from "./i18n.js";
import { startSavedFeed } from "./offline.js";
import { el, renderPost, updateShares } from "./render.js";
import { fitCard, Stage } from "./stage.js";
import { refreshTimes } from "./time.js";

const TICK_MS = 1000;
const TIMES_MS = 30 * 1000;
// Against burn-in: the whole page drifts by a few pixels now and then.
const SHIFT_MS = 3 * 60 * 1000;
const SHIFT_PX = 6;

const $ = (id) => document.getElementById(id);
const body = document.body;
const config = await loadConfig();
applyBranding(config);
const lang = currentLanguage();
let resized = false; // the cards must be fitted again (resize, fonts, announcement)

function header() {
  $("title").textContent = config.title;
  $("tags").textContent = hashtagsText(config);
  const logo = logoImage(config);
  if (logo) $("brand").prepend(logo);
  $("qr").src = config.qr_url;
  $("join-text").textContent = t("join");
  let where = config.phone_url;
  try {
    const url = new URL(config.phone_url);
    where = url.host + (url.pathname === "/" ? "" : url.pathname);
  } catch {
    // Shown as given.
  }
  $("join-url").textContent = where;
  $("empty").textContent = t("invite", { tags: config.hashtags.join(" ") || "#" });
  $("posts").setAttribute("aria-label", t("posts"));
  $("paused-sign").title = t("paused");
  $("offline").title = t("offline");
}

const LAYOUTS = ["grid", "spotlight", "mosaic"];
// `auto`: the photo mosaic while this share of the recent posts carry a photo.
const MOSAIC_SHARE = 0.4;
const RECENT = 12;

function hasPhoto(post) {
  return Array.isArray(post.media) && post.media.some((m) => m && m.type === "photo");
}

// The layout in force; returns whether it changed (the number of slots may have).
function chooseLayout(posts = []) {
  let layout = config.layout;
  if (layout === "auto") {
    const recent = posts.slice(0, RECENT);
    const photos = recent.filter(hasPhoto).length;
    layout = recent.length && photos / recent.length >= MOSAIC_SHARE ? "mosaic" : "grid";
  }
  if (!LAYOUTS.includes(layout)) layout = "grid";
  if (body.dataset.layout === layout) return false;
  for (const name of LAYOUTS) body.classList.toggle(`layout-${name}`, name === layout);
  body.dataset.layout = layout;
  return true;
}

// The mosaic's large place goes to the newest card with a photo, else to the newest card.
function markBig() {
  if (body.dataset.layout !== "mosaic") {
    for (const card of $("posts").querySelectorAll(".post.big")) card.classList.remove("big");
    return;
  }
  const slots = [...stage.slots].sort((a, b) => b.since - a.since);
  const pick = slots.find((s) => s.card.querySelector(".gallery img")) || slots[0];
  for (const slot of slots) {
    const big = slot === pick;
    if (slot.card.classList.contains("big") !== big) {
      slot.card.classList.toggle("big", big);
      fitCard(slot.card);
    }
  }
}

function relayout() {
  if (!chooseLayout(feed.recent())) return;
  stage.trim();
  markBig();
  stage.refit();
}

header();
chooseLayout();

const featuredBox = $("featured");
let stage = null;
featuredBox.addEventListener("error", () => {
  const card = featuredBox.querySelector(".post");
  if (card) requestAnimationFrame(() => fitCard(card));
}, true);

// The organiser's announcement, in its banner or ticker, until its duration (if any) ends.
let announcement = null;

function announcementEnds(post) {
  const seconds = Number(post.extra && post.extra.duration);
  const start = Date.parse(post.created_at);
  return seconds > 0 && Number.isFinite(start) ? start + seconds * 1000 : Infinity;
}

function showAnnouncement(post) {
  announcement = post && announcementEnds(post) > Date.now() ? post : null;
  const bar = $("announcement");
  if (!announcement) {
    if (!bar.hidden) resized = true;
    bar.hidden = true;
    $("announcement-text").textContent = "";
    return;
  }
  const ticker = config.announcement_style === "ticker";
  bar.classList.toggle("announcement-ticker", ticker);
  const text = $("announcement-text");
  text.textContent = announcement.text;
  // A ticker crosses the screen at a reading pace whatever the text's length.
  text.style.setProperty("--ticker-seconds", `${Math.max(12, announcement.text.length / 6)}s`);
  const logo = $("announcement-logo");
  const src = config.logo_url || "/static/img/hashwall.svg";
  if (logo.getAttribute("src") !== src) {
    logo.addEventListener("error", () => { logo.hidden = true; }, { once: true });
    logo.src = src;
  }
  logo.hidden = false;
  bar.hidden = false;
  resized = true; // the stage is shorter now: fit the cards again
}

function showFeatured(featured) {
  const id = featured ? featured.post.id : null;
  if (!featured) {
    featuredBox.hidden = true;
    featuredBox.replaceChildren();
    $("stage").classList.remove("has-featured");
  } else {
    const label = el("p", "featured-label",
      t(featured.reason === "pinned" ? "featured" : "announcement"));
    const card = renderPost(featured.post, { lang, media: 1 });
    card.classList.add("arriving");
    featuredBox.replaceChildren(label, card);
    featuredBox.hidden = false;
    $("stage").classList.add("has-featured");
    fitCard(card);
  }
  body.dataset.featured = id || "";
  stage.setExcluded(id);
  stage.trim();
  stage.refit();
  showInvitation();
}

// The invitation to post fills the stage only when it has nothing else to show.
function showInvitation() {
  $("empty").hidden = stage.slots.length > 0 || !featuredBox.hidden;
}

const feed = new Feed({
  keep: 60,
  onReset: (posts) => {
    chooseLayout(posts);
    stage.reset(posts);
  },
  onShow: (post) => {
    relayout();
    stage.arrive(post);
  },
  onRetract: (id) => {
    stage.retract(id);
    relayout();
  },
  onFeature: showFeatured,
  onShares: (id, count) => updateShares(body, id, count),
  onAnnounce: showAnnouncement,
  onTheme: (name) => {
    applyTheme(name);
    resized = true;
  },
  onPause(paused) {
    $("paused-sign").hidden = !paused;
    body.dataset.paused = String(paused);
  },
});
stage = new Stage($("posts"), {
  feed,
  lang,
  rotateSeconds: Number(config.rotate_seconds) || 12,
  onChange: () => {
    markBig();
    showInvitation();
  },
});
stage.reset([]);
// What the wall showed before a reload, so a reload while offline shows the same posts.
// Discreet on purpose: the room keeps its posts, only a small dot says we are offline.
const connection = startSavedFeed("wall", feed, { limit: 50, offline: $("offline") });

window.addEventListener("resize", () => { resized = true; });
document.fonts?.ready.then(() => { resized = true; });
let lastTimes = Date.now();
let lastShift = Date.now();

function shift() {
  const dx = Math.round((Math.random() * 2 - 1) * SHIFT_PX);
  const dy = Math.round((Math.random() * 2 - 1) * SHIFT_PX);
  $("frame").style.setProperty("--shift", `translate(${dx}px, ${dy}px)`);
}

function tick() {
  const now = Date.now();
  if (resized) {
    resized = false;
    stage.trim();
    stage.refit();
    const featuredCard = featuredBox.querySelector(".post");
    if (featuredCard) fitCard(featuredCard);
  }
  stage.tick(now, feed.paused);
  if (announcement && announcementEnds(announcement) <= now) showAnnouncement(null);
  if (now - lastTimes >= TIMES_MS) {
    lastTimes = now;
    refreshTimes(body, lang, now);
  }
  if (now - lastShift >= SHIFT_MS) {
    lastShift = now;
    shift();
  }
}

setInterval(tick, TICK_MS);
// For a technician's console: what the wall knows, never used by the page itself.
window.hashwall = { feed, stage, connection };
