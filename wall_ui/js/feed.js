// What a screen should show, fed by /ws: the recent approved posts, the featured post
// (pinned, or the newest announcement) and the moderators' pause. No DOM here: the wall
// and the phone view draw it their own way through the callbacks.
import { Connection } from "./connection.js";
import {
  POST_PINNED, POST_RETRACTED, POST_SHARES, POST_SHOWN, POST_UNPINNED, SNAPSHOT, WALL_PAUSED,
  WALL_RESUMED, WALL_THEME,
} from "./protocol.js";

const ANNOUNCEMENTS_KEPT = 8;

function isPost(value) {
  return Boolean(value && typeof value === "object" && typeof value.id === "string");
}

function withShares(post, count) {
  if (isPost(post) && Number.isInteger(count)) post.shares = count;
  return post;
}

export class Feed {
  // keep: how many recent posts to remember (the wall rotates through them).
  // onAnnounce: given, announcements go to it (the newest, or null) and never take the
  // featured place, which then holds the pinned post only.
  constructor({ keep = 60, onReset, onShow, onRetract, onFeature, onPause, onShares,
    onAnnounce, onTheme } = {}) {
    this.keep = keep;
    this.posts = new Map(); // id -> post, oldest first
    this.held = new Map(); // id -> {post, seq} approved during a pause, oldest first
    this.announcements = []; // [{post, seq}], newest last
    this.pin = null; // {post, seq}
    this.featured = null;
    this.paused = false;
    this.onReset = onReset || (() => {});
    this.onShow = onShow || (() => {});
    this.onRetract = onRetract || (() => {});
    this.onFeature = onFeature || (() => {});
    this.onPause = onPause || (() => {});
    this.onAnnounce = onAnnounce || null;
    this.onTheme = onTheme || (() => {}); // a moderator switched the screens' theme
    this.announced = null; // the announcement last given to onAnnounce
    this.onShares = onShares || (() => {}); // (id, count): redraw that post's count
  }

  // Newest first, as screens list them.
  recent() {
    return Array.from(this.posts.values()).reverse();
  }

  apply(message) {
    switch (message.type) {
      case SNAPSHOT: return this.snapshot(message);
      case POST_SHOWN: return isPost(message.post)
        && this.shown(withShares(message.post, message.shares), message.seq);
      case POST_SHARES: return this.shares(message.id, message.shares);
      case POST_RETRACTED: return this.retract(message.id);
      case POST_PINNED: return this.pinned(message);
      case POST_UNPINNED: return this.unpinned();
      case WALL_PAUSED: return this.setPaused(true);
      case WALL_RESUMED: return this.setPaused(false);
      case WALL_THEME: return this.onTheme(message.theme);
      default: return undefined;
    }
  }

  snapshot(message) {
    const counts = message.shares && typeof message.shares === "object" ? message.shares : {};
    const incoming = (Array.isArray(message.posts) ? message.posts : []).filter(isPost)
      .map((post) => withShares(post, counts[post.id]));
    const regular = incoming.filter((p) => p.kind !== "announcement");
    this.announcements = incoming.filter((p) => p.kind === "announcement")
      .slice(0, ANNOUNCEMENTS_KEPT).reverse().map((post) => ({ post, seq: 0 }));
    const pinned = isPost(message.pinned) ? withShares(message.pinned, counts[message.pinned.id])
      : message.pinned;
    if (isPost(pinned)) this.pin = { post: pinned, seq: 1 };
    else if (typeof pinned === "string") {
      const post = incoming.find((p) => p.id === pinned);
      this.pin = post ? { post, seq: 1 } : null;
    } else if (pinned === null) this.pin = null;
    // Without the field (an older server), a pin we already know stays.
    const wasPaused = this.paused;
    if (typeof message.paused === "boolean") this.paused = message.paused;
    if (this.paused && this.posts.size > 0) {
      // Paused: keep what is shown, hold what is new, drop what was taken back.
      const ids = new Set(regular.map((p) => p.id));
      for (const id of Array.from(this.posts.keys())) {
        if (!ids.has(id)) this.retract(id);
      }
      for (const post of regular.slice().reverse()) {
        if (!this.posts.has(post.id)) this.hold(post);
        else if (post.shares !== this.posts.get(post.id).shares) this.shares(post.id, post.shares);
      }
    } else {
      this.posts.clear();
      this.held.clear();
      for (const post of regular.slice(0, this.keep).reverse()) this.posts.set(post.id, post);
      this.onReset(this.recent());
    }
    if (wasPaused !== this.paused) this.onPause(this.paused);
    this.refeature();
  }

  shown(post, seq) {
    if (this.paused) {
      this.hold(post, seq);
      return;
    }
    if (post.kind === "announcement") {
      this.announcements = this.announcements.filter((a) => a.post.id !== post.id);
      this.announcements.push({ post, seq: seq || 0 });
      if (this.announcements.length > ANNOUNCEMENTS_KEPT) this.announcements.shift();
      this.refeature();
      return;
    }
    if (this.posts.has(post.id)) return;
    this.posts.set(post.id, post);
    while (this.posts.size > this.keep) this.posts.delete(this.posts.keys().next().value);
    this.onShow(post);
  }

  hold(post, seq = 0) {
    this.held.delete(post.id);
    this.held.set(post.id, { post, seq });
    while (this.held.size > this.keep) this.held.delete(this.held.keys().next().value);
  }

  retract(id) {
    if (typeof id !== "string") return;
    this.held.delete(id);
    this.posts.delete(id);
    this.announcements = this.announcements.filter((a) => a.post.id !== id);
    if (this.pin && this.pin.post.id === id) this.pin = null;
    this.refeature();
    // Always told: a screen may still draw it (featured, or a phone's older posts).
    this.onRetract(id);
  }

  // The count lives on the post objects, so a card drawn later draws it too.
  shares(id, count) {
    if (typeof id !== "string" || !Number.isInteger(count)) return;
    const found = [this.posts.get(id), this.held.get(id)?.post, this.pin?.post,
      ...this.announcements.map((a) => a.post)];
    for (const post of found) {
      if (post && post.id === id) post.shares = count;
    }
    this.onShares(id, count);
  }

  pinned(message) {
    const known = this.posts.get(message.id);
    const post = isPost(message.post) ? withShares(message.post, known?.shares) : known;
    if (!post) return;
    this.pin = { post, seq: message.seq || 0 };
    this.refeature();
  }

  unpinned() {
    this.pin = null;
    this.refeature();
  }

  setPaused(paused) {
    if (this.paused === paused) return;
    this.paused = paused;
    this.onPause(paused);
    if (!paused) {
      const held = Array.from(this.held.values());
      this.held.clear();
      for (const { post, seq } of held) this.shown(post, seq);
    }
  }

  // The featured place shows the newest of the pin and the announcements.
  refeature() {
    const announcement = this.announcements[this.announcements.length - 1] || null;
    if (this.onAnnounce) {
      const post = announcement ? announcement.post : null;
      if (post !== this.announced) {
        this.announced = post;
        this.onAnnounce(post);
      }
    }
    let next = this.pin;
    if (announcement && !this.onAnnounce && (!next || announcement.seq > next.seq)) {
      next = announcement;
    }
    const featured = next ? { post: next.post, reason: next === this.pin ? "pinned" : "announcement" }
      : null;
    const before = this.featured;
    if (before?.post.id === featured?.post.id && before?.reason === featured?.reason) return;
    this.featured = featured;
    this.onFeature(featured);
  }
}

// A Feed connected to /ws; `onState` reports the connection for the page's discreet sign.
// `since`: the seq of a saved copy the feed already shows (offline.js), to resume after it.
export function startFeed(feed, { onState, onMessage, since = null, epoch = null } = {}) {
  const connection = new Connection("/ws", {
    contiguous: true,
    onMessage(message) {
      feed.apply(message);
      if (onMessage) onMessage(message, connection);
    },
    onState,
  });
  if (Number.isInteger(since)) {
    connection.seq = since;
    if (typeof epoch === "string") connection.epoch = epoch;
  }
  connection.start();
  return connection;
}
