// Every websocket message type, mirroring server/protocol.py.
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
