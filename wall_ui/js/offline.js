// A page that survives a reload while the server or the network is down: the service
// worker (/sw.js) keeps the page's files, and SavedFeed keeps what the screen showed, with
// the sequence number it showed it at, so the page resumes with ?since= without a gap.
import { startFeed } from "./feed.js";
import { SNAPSHOT } from "./protocol.js";

const FORMAT = 1;
// Saved at most this often while events flow, and always when the page goes away.
const SAVE_MS = 1000;
const ANNOUNCEMENTS_KEPT = 8;

function isPost(value) {
  return Boolean(value && typeof value === "object" && typeof value.id === "string");
}

function isEntry(value) {
  return Boolean(value && isPost(value.post) && Number.isInteger(value.seq));
}

// Registers the service worker once the page has loaded, where the browser allows one
// (HTTPS, or an http://localhost address).
export function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  const register = () => {
    navigator.serviceWorker.register("/sw.js").catch(() => {
      // No copies, no harm: the page still works online.
    });
  };
  if (document.readyState === "complete") register();
  else window.addEventListener("load", register, { once: true });
}

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled: nothing is saved, nothing restored
  }
}

export class SavedFeed {
  // name: one saved copy per page; limit: how many posts (and held posts) are saved.
  constructor(name, feed, { limit }) {
    this.key = `hashwall.feed.${name}`;
    this.feed = feed;
    this.limit = limit;
    this.seq = null;
    this.epoch = null; // the event log `seq` counts in
    this.timer = null;
    window.addEventListener("pagehide", () => this.save());
  }

  // Shows the saved copy through the feed; returns the seq to resume from, or null.
  restore() {
    let saved = null;
    try {
      saved = JSON.parse(storage()?.getItem(this.key) || "null");
    } catch {
      return null; // not ours, or damaged: start from the server's snapshot
    }
    if (!saved || saved.format !== FORMAT || !Number.isInteger(saved.seq) || saved.seq < 0) {
      return null;
    }
    const list = (value) => (Array.isArray(value) ? value : []);
    const feed = this.feed;
    const pin = isEntry(saved.pin) ? saved.pin : null;
    feed.apply({
      type: SNAPSHOT,
      seq: saved.seq,
      posts: list(saved.posts).filter(isPost).slice(0, this.limit),
      pinned: pin ? pin.post : null,
      paused: saved.paused === true,
    });
    // The featured place compares the pin and the announcements by their seq.
    if (feed.pin && pin) feed.pin.seq = pin.seq;
    feed.announcements = list(saved.announcements).filter(isEntry).slice(-ANNOUNCEMENTS_KEPT);
    for (const { post, seq } of list(saved.held).filter(isEntry).slice(-this.limit)) {
      feed.hold(post, seq);
    }
    feed.refeature();
    this.seq = saved.seq;
    this.epoch = typeof saved.epoch === "string" ? saved.epoch : null;
    return saved.seq;
  }

  // The feed applied the message of this seq (of this epoch): save soon.
  changed(seq, epoch = this.epoch) {
    this.seq = seq;
    this.epoch = epoch;
    if (this.timer === null) this.timer = setTimeout(() => this.save(), SAVE_MS);
  }

  save() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.seq === null) return;
    const feed = this.feed;
    const state = {
      format: FORMAT,
      seq: this.seq,
      epoch: this.epoch,
      posts: feed.recent().slice(0, this.limit),
      announcements: feed.announcements,
      pin: feed.pin,
      paused: feed.paused,
      held: Array.from(feed.held.values()).slice(-this.limit),
    };
    try {
      storage()?.setItem(this.key, JSON.stringify(state));
    } catch {
      // Storage full: the copy saved before stays, older but consistent with its seq.
    }
  }
}

// Start a page's live feed from what it showed before a reload, keep that copy current,
// and show `offline` while the socket is down. Returns the connection.
export function startSavedFeed(name, feed, { limit, offline }) {
  const body = document.body;
  const saved = new SavedFeed(name, feed, { limit });
  const since = saved.restore();
  if (since !== null) body.dataset.seq = String(since);
  const connection = startFeed(feed, {
    since,
    epoch: saved.epoch,
    onState(state) {
      offline.hidden = state === "open";
      body.dataset.connection = state;
    },
    onMessage(message, conn) {
      body.dataset.seq = String(conn.seq);
      saved.changed(conn.seq, conn.epoch);
    },
  });
  registerServiceWorker();
  return connection;
}
