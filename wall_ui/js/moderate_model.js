// The moderator console's queue, without a page: what is pending, what is on the wall, who
// claimed what, and what each websocket message changed. No DOM here (moderate.js draws), so
// the same module runs in a page, a worker or node, and is tested on its own.
import * as P from "./protocol.js";

const SEEN_MAX = 500; // rejected and hidden posts kept for the activity list and overrides
const WALL_ROWS = 60; // approved posts listed in the console
const LEFT_MAX = 5000; // decided posts remembered while the rest of the queue is paged in

// Rule names as moderators read them (the server sends the identifiers of moderation/rules.py).
export const RULE_NAMES = {
  blocked_word: "Blocked word", blocked_words: "Blocked words",
  blocked_author: "Blocked author", blocked_authors: "Blocked authors",
  trusted_author: "Trusted author", trusted_authors: "Trusted authors",
  reply: "Reply", rate_limit: "Rate limit", language: "Language", sensitive: "Sensitive",
  links: "Has a link", media: "Has a photo or video", bot_flood: "Bot flood",
  post_moderation: "Post-moderation",
};

// "blocked_word" → "Blocked word"; an unknown identifier still reads as words.
export function ruleName(rule) {
  if (!rule) return "";
  if (RULE_NAMES[rule]) return RULE_NAMES[rule];
  const words = String(rule).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function describe(item) {
  return item ? `@${item.post.author.handle}` : "the post";
}

// What one message changed, for the view to redraw just that.
function change() {
  return {
    all: false, // a snapshot: redraw everything
    ids: new Set(), // posts whose card changed, appeared or went
    queue: false, // the queue's membership or order may have changed
    wall: false, // the approved list or the pinned post changed
    wallState: false, // mode or pause
    activity: [], // entries to add at the top of the activity list
    notice: null, // a sentence for the moderator
    rules: null, // the rules now in force
  };
}

export class QueueModel {
  constructor() {
    this.pending = new Map(); // post id -> queue item
    this.approved = new Map(); // post id -> item
    this.seen = new Map(); // post id -> item, also rejected and hidden ones
    this.me = null;
    this.wall = { mode: "pre", paused: false, pinned: null };
    this.left = new Set(); // ids decided since the snapshot: a page read earlier is stale
    this.generation = 0; // which snapshot pages belong to
  }

  // The cursor to page in the rest of the queue from, after a snapshot that holds only the
  // oldest part of it; null when the snapshot held it all.
  rest(message) {
    const listed = (message.pending || []).length;
    const total = message.counts && Number.isInteger(message.counts.pending)
      ? message.counts.pending : listed;
    return total > listed && listed > 0 ? message.pending[listed - 1].post.id : null;
  }

  // Add a page of GET /api/posts?status=pending to the queue. What the socket said since
  // wins: a post it showed decided stays out, one it already placed stays as it is.
  merge(items) {
    const out = change();
    for (const item of items) {
      const id = item.post.id;
      if (this.left.has(id) || this.pending.has(id) || this.approved.has(id)) continue;
      const known = this.seen.get(id);
      if (known && known.status !== "pending") continue;
      this.place(item);
      out.ids.add(id);
      out.queue = true;
    }
    return out;
  }

  item(id) {
    return this.pending.get(id) || this.approved.get(id) || this.seen.get(id) || null;
  }

  // Items are replaced, never changed in place: a view compares identities to find changes.
  place(item) {
    const id = item.post.id;
    this.seen.delete(id);
    this.seen.set(id, item);
    if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.keys().next().value);
    this.pending.delete(id);
    this.approved.delete(id);
    if (item.status === "pending") this.pending.set(id, item);
    else if (item.status === "approved") this.approved.set(id, item);
  }

  // Own batch first, then free posts, then colleagues' batches; oldest first within each.
  // `hidden(id)` leaves out posts this tablet already decided (their command is in flight).
  queueOrder(hidden = () => false) {
    const me = this.me;
    const rank = (item) => (item.claimed_by === me ? 0 : item.claimed_by ? 2 : 1);
    return [...this.pending.values()].filter((item) => !hidden(item.post.id))
      .sort((a, b) => rank(a) - rank(b) || a.received_at - b.received_at);
  }

  // The approved posts the console lists, last decided first.
  wallOrder() {
    return [...this.approved.values()].sort((a, b) => b.updated_at - a.updated_at)
      .slice(0, WALL_ROWS);
  }

  // The post after `id` in the queue, where the focus goes once `id` is decided.
  nextAfter(id, hidden) {
    const order = this.queueOrder(hidden).map((i) => i.post.id);
    const at = order.indexOf(id);
    const rest = at < 0 ? order : [...order.slice(at + 1), ...order.slice(0, at)];
    return rest.find((other) => other !== id) || null;
  }

  // Apply one websocket message; returns what changed (see `change`).
  apply(message, now = Date.now() / 1000) {
    const out = change();
    switch (message.type) {
      case P.QUEUE_SNAPSHOT: this.snapshot(message, out); break;
      case P.QUEUE_ADDED: this.added(message.item, out); break;
      case P.QUEUE_DECIDED: this.decided(message, now, out); break;
      case P.QUEUE_CLAIMED: this.claims(message, true, out); break;
      case P.QUEUE_RELEASED: this.claims(message, false, out); break;
      case P.QUEUE_SHARES: this.shares(message, out); break;
      case P.POST_PINNED: this.pin(message.id, out); break;
      case P.POST_UNPINNED: this.pin(null, out); break;
      case P.WALL_PAUSED: this.setWall({ paused: true }, out); break;
      case P.WALL_RESUMED: this.setWall({ paused: false }, out); break;
      case P.WALL_MODE: this.setWall({ mode: message.mode }, out); break;
      case P.WALL_THEME: this.setWall({ theme: message.theme }, out); break;
      case P.RULES_CHANGED: out.rules = message.rules; break;
      case P.SOURCE_NOTICE: out.notice = `${message.source}: ${message.message}`; break;
      default: break;
    }
    return out;
  }

  snapshot(message, out) {
    this.pending.clear();
    this.approved.clear();
    for (const item of message.pending || []) this.pending.set(item.post.id, item);
    for (const item of message.approved || []) this.approved.set(item.post.id, item);
    // The theme is not part of the snapshot: keep what /api/config or the socket said.
    const theme = this.wall.theme ? { theme: this.wall.theme } : {};
    this.wall = message.wall ? { ...message.wall, ...theme } : this.wall;
    this.me = message.moderator || this.me;
    this.left.clear();
    this.generation += 1;
    out.all = true;
    out.queue = out.wall = out.wallState = true;
    out.rules = message.rules || null;
    const notices = Array.isArray(message.notices) ? message.notices : [];
    if (notices.length) {
      out.notice = notices.map((n) => `${n.source}: ${n.message}`).join(" · ");
    }
    // The stores also log an announcement as queued by the rules: the moderator's own
    // "announce" entry says it in plain words, so that one is left out.
    out.activity = (message.recent || [])
      .filter((entry) => !(entry.action === "submit" && entry.rule === "announcement"))
      .map((entry) => ({ ...entry, postId: entry.post_id }));
  }

  added(item, out) {
    this.place(item);
    out.ids.add(item.post.id);
    out.queue = item.status === "pending";
    out.wall = item.status === "approved";
    if (item.post.kind === "announcement") {
      // The organiser's words, not a post the rules let through.
      out.activity.push({ at: item.received_at, actor: item.decided_by || "a moderator",
        action: "announce", postId: item.post.id, after: item.status, rule: null });
    } else if (item.status !== "pending") {
      out.activity.push({ at: item.received_at, actor: item.decided_by || "rules",
        action: "submit", postId: item.post.id, after: item.status, rule: item.rule });
    }
  }

  decided(message, now, out) {
    const item = message.item || this.item(message.id);
    const was = item ? item.status : null;
    if (message.status !== "pending") {
      this.left.add(message.id);
      if (this.left.size > LEFT_MAX) this.left.delete(this.left.values().next().value);
    } else {
      this.left.delete(message.id);
    }
    out.activity.push({ at: now, actor: message.moderator, action: message.action,
      postId: message.id, after: message.status, rule: message.rule });
    if (item) {
      this.place({ ...item, status: message.status, decided_by: message.moderator,
        updated_at: now, claimed_by: null });
      out.ids.add(message.id);
    }
    out.queue = was === "pending" || message.status === "pending" || !item;
    out.wall = was === "approved" || message.status === "approved" || !item;
    if (message.moderator !== this.me && message.moderator !== "rules") {
      out.notice = `${message.moderator} ${message.action === "undo" ? "undid a decision on"
        : `${message.status}`} ${describe(item)}`;
    }
  }

  claims(message, claimed, out) {
    for (const id of message.ids || []) {
      const item = this.pending.get(id);
      if (!item) continue;
      this.place({ ...item, claimed_by: claimed ? message.moderator : null,
        claim_until: claimed ? message.until : null });
      out.ids.add(id);
      out.queue = true;
    }
  }

  // One more retweet counted toward a post: only its count line changes.
  shares(message, out) {
    const item = this.item(message.id);
    if (!item) return;
    this.place({ ...item, shares: message.shares });
    out.ids.add(message.id);
  }

  pin(id, out) {
    const before = this.wall.pinned;
    this.wall = { ...this.wall, pinned: id };
    for (const changed of [before, id]) if (changed) out.ids.add(changed);
    out.wall = true;
  }

  setWall(fields, out) {
    this.wall = { ...this.wall, ...fields };
    out.wallState = true;
  }
}
