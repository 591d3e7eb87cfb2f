// Every websocket message type and error code, mirroring moderation/wire.py.
export const SNAPSHOT = "snapshot";
export const POST_SHOWN = "post.shown";
export const POST_RETRACTED = "post.retracted";
export const QUEUE_SNAPSHOT = "queue.snapshot";
export const QUEUE_ADDED = "queue.added";
export const QUEUE_DECIDED = "queue.decided";
export const ACK = "ack";
export const ERROR = "error";
export const DECIDE = "decide";
export const POST_PINNED = "post.pinned";
export const POST_UNPINNED = "post.unpinned";
export const WALL_PAUSED = "wall.paused";
export const WALL_RESUMED = "wall.resumed";
export const UNDO = "undo";
export const PIN = "pin";
export const UNPIN = "unpin";
export const ANNOUNCE = "announce";
export const PAUSE = "pause";
export const RESUME = "resume";
export const MODE = "mode";
export const CLAIM = "claim";
export const RELEASE = "release";
export const RULES = "rules";
export const QUEUE_CLAIMED = "queue.claimed";
export const QUEUE_RELEASED = "queue.released";
export const WALL_MODE = "wall.mode";
export const RULES_CHANGED = "rules.changed";
export const POST_SHARES = "post.shares";
export const QUEUE_SHARES = "queue.shares";
export const HEARTBEAT = "heartbeat";
export const SOURCE_NOTICE = "source.notice";
export const WALL_THEME = "wall.theme";
export const THEME = "theme";

// The `code` of an `error` message (moderation/wire.py ErrorCode).
export const ErrorCode = Object.freeze({
  BAD_REQUEST: "bad_request",
  BAD_SINCE: "bad_since",
  UNAUTHORISED: "unauthorised",
  INVALID_ACTION: "invalid_action",
  INVALID_RULES: "invalid_rules",
  UNKNOWN_POST: "unknown_post",
  CONFLICT: "conflict",
  STORE_UNAVAILABLE: "store_unavailable",
});
