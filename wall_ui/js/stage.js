// The wall's slots: a few cards at once, new posts paced in calmly, recent posts rotated
// when nothing new comes, text fitted to its card. The DOM holds only the visible cards.
import { renderPost } from "./render.js";

// At most one new card per this many milliseconds, so the room can read.
const ARRIVAL_GAP_MS = 2000;
// Text never shrinks below this share of its full size.
const MIN_FIT = 0.5;
// Text that would shrink below this share to leave room for an image takes the room.
const IMAGE_FIT = 0.62;

// Layout passes one fit may take: a binary search of the size, whatever the text.
const FIT_STEPS = 6;

function shrink(card, text) {
  const overflowing = () => text.scrollHeight > text.clientHeight + 1
    || card.scrollHeight > card.clientHeight + 1;
  card.style.setProperty("--fit", "1");
  let steps = 1;
  let fit = 1;
  if (overflowing()) {
    // The largest size that fits, between MIN_FIT and 1, in a fixed number of layouts.
    let low = MIN_FIT;
    let high = 1;
    for (let i = 0; i < FIT_STEPS; i += 1) {
      const middle = (low + high) / 2;
      card.style.setProperty("--fit", middle.toFixed(3));
      steps += 1;
      if (overflowing()) high = middle;
      else low = middle;
    }
    fit = low;
    card.style.setProperty("--fit", fit.toFixed(3));
  }
  card.dataset.fitSteps = String(Number(card.dataset.fitSteps || 0) + steps);
  return fit;
}

// Text still too long at the smallest size keeps the whole lines that fit and ends in an
// ellipsis: never a line cut in half.
function clamp(card, text) {
  text.classList.remove("clamped");
  card.style.removeProperty("--lines");
  const over = card.scrollHeight - card.clientHeight;
  if (text.scrollHeight <= text.clientHeight + 1 && over <= 1) return;
  const line = parseFloat(getComputedStyle(text).lineHeight) || 1;
  const room = text.clientHeight - Math.max(0, over);
  // On the card, like --fit: the text itself never gets a style attribute.
  card.style.setProperty("--lines", String(Math.max(1, Math.floor(room / line))));
  text.classList.add("clamped");
}

// Shrinks the text of a card until it fits; a long text takes the image's room instead, and
// what still does not fit ends in an ellipsis. At most 2 × 7 layouts, whatever the text.
export function fitCard(card) {
  const text = card.querySelector(":scope > .text");
  if (!text) return;
  card.classList.remove("text-only");
  card.dataset.fitSteps = "0";
  text.classList.remove("clamped");
  card.style.removeProperty("--lines");
  if (shrink(card, text) < IMAGE_FIT && card.querySelector(":scope > .gallery")) {
    card.classList.add("text-only");
    shrink(card, text);
  }
  clamp(card, text);
}

export class Stage {
  constructor(box, { feed, lang, rotateSeconds = 12, onChange }) {
    this.box = box;
    this.feed = feed;
    this.lang = lang;
    this.rotateMs = rotateSeconds * 1000;
    this.onChange = onChange || (() => {}); // the cards changed
    this.slots = []; // [{id, card, since}] in DOM order
    this.incoming = []; // posts waiting for a slot, oldest first
    this.lastShown = new Map(); // id -> when it was last on screen, to rotate fairly
    this.lastChange = 0;
    this.exclude = null; // the featured post: never twice on screen
    // A broken image is removed by its card, and a loaded one may take another shape than
    // its announced size: fit the text again to the room it has now.
    for (const type of ["error", "load"]) {
      box.addEventListener(type, (event) => {
        const card = event.target.closest?.(".post");
        if (card && event.target instanceof HTMLImageElement) {
          requestAnimationFrame(() => fitCard(card));
        }
      }, true);
    }
  }

  capacity() {
    const value = parseInt(getComputedStyle(this.box).getPropertyValue("--slots"), 10);
    return Number.isInteger(value) && value > 0 ? value : 1;
  }

  reset(posts) {
    this.box.replaceChildren();
    this.slots = [];
    this.incoming = [];
    this.lastShown.clear();
    for (const post of posts.slice(0, this.capacity())) this.place(post, false);
    this.onChange();
  }

  arrive(post) {
    this.incoming.push(post);
    // Older arrivals than one screenful are only kept for rotation (the feed has them).
    const most = this.capacity();
    if (this.incoming.length > most) this.incoming.splice(0, this.incoming.length - most);
    if (this.slots.length < most || Date.now() - this.lastChange >= ARRIVAL_GAP_MS) this.step();
  }

  retract(id) {
    this.incoming = this.incoming.filter((p) => p.id !== id);
    this.lastShown.delete(id);
    this.unslot(id);
  }

  // The featured place shows this post now: its card leaves the slots.
  setExcluded(id) {
    this.exclude = id;
    if (id !== null) this.unslot(id);
  }

  unslot(id) {
    const index = this.slots.findIndex((s) => s.id === id);
    if (index < 0) return;
    this.slots[index].card.remove(); // at once: a hidden post must leave the room now
    this.slots.splice(index, 1);
    const next = this.nextCandidate();
    if (next) this.place(next, true);
    this.onChange();
  }

  // Called by the page's one clock: bring in what waits, or rotate when all is quiet.
  tick(now, paused) {
    this.trim();
    if (now - this.lastChange < ARRIVAL_GAP_MS) return;
    if (this.incoming.length) this.step();
    else if (!paused && now - this.lastChange >= this.rotateMs) this.rotate();
  }

  step() {
    const post = this.incoming.shift();
    if (post && this.feed.posts.has(post.id)) this.place(post, true);
  }

  rotate() {
    const next = this.nextCandidate();
    if (next) this.place(next, true);
    else this.lastChange = Date.now(); // nothing to rotate to: look again later
  }

  // The recent post off screen for the longest time.
  nextCandidate() {
    const onScreen = new Set(this.slots.map((s) => s.id));
    let best = null;
    let bestAt = Infinity;
    for (const post of this.feed.recent()) {
      if (onScreen.has(post.id) || post.id === this.exclude) continue;
      const at = this.lastShown.get(post.id) || 0;
      if (at < bestAt) {
        best = post;
        bestAt = at;
      }
    }
    return best;
  }

  // A new card takes an empty slot, or the slot that has shown the same post the longest.
  place(post, animate) {
    this.incoming = this.incoming.filter((p) => p.id !== post.id);
    if (post.id === this.exclude || this.slots.some((s) => s.id === post.id)) return;
    const card = renderPost(post, { lang: this.lang, media: 1, eager: true });
    if (animate) card.classList.add("arriving");
    const now = Date.now();
    const slot = { id: post.id, card, since: now };
    if (this.slots.length < this.capacity()) {
      this.box.append(card);
      this.slots.push(slot);
    } else {
      let oldest = 0;
      for (let i = 1; i < this.slots.length; i += 1) {
        if (this.slots[i].since < this.slots[oldest].since) oldest = i;
      }
      this.slots[oldest].card.replaceWith(card);
      this.slots[oldest] = slot;
    }
    this.lastShown.set(post.id, now);
    for (const id of this.lastShown.keys()) {
      if (!this.feed.posts.has(id)) this.lastShown.delete(id);
    }
    this.lastChange = now;
    fitCard(card);
    this.onChange();
  }

  // After a resize or a change of the featured place, the number of slots may change.
  trim() {
    const most = this.capacity();
    while (this.slots.length > most) this.slots.pop().card.remove();
    while (this.slots.length < most) {
      const next = this.incoming.shift() || this.nextCandidate();
      if (!next) break;
      this.place(next, true);
    }
  }

  refit() {
    for (const slot of this.slots) fitCard(slot.card);
  }
}
