// One websocket that reconnects by itself (exponential backoff with jitter) and resumes
// with ?since=&epoch= so that nothing is missed and nothing arrives twice. Shared by every page.
//
//   new Connection(path, { onMessage, onState, minDelay, maxDelay, contiguous })
//   .start()  .send(message) -> bool  .stop()  .seq (last sequence number applied)
//   .epoch (the event log `seq` counts in, from the last snapshot; null before one)
//
// A seq means something only in its epoch: a server whose store was replaced answers a
// resume from another epoch with a fresh snapshot (`reset`), never with its own events.
//
// onState("open" | "closed", closeCode) reports the socket; onMessage gets each message once.
// With `contiguous`, a sequence number that skips ahead (a gap) makes it resume at once.
// A socket that does not open within 10 s, or that stays silent for three heartbeat
// intervals (the server says how long in each `heartbeat`), is dropped and tried again.
const SNAPSHOTS = new Set(["snapshot", "queue.snapshot"]);
const UNAUTHORISED = 4401;
// A connection that stayed up this long counts as healthy: the next retry starts fast again.
const HEALTHY_MS = 5000;
// A socket that has not opened by then is given up and tried again (a silent network cut).
const OPEN_TIMEOUT_MS = 10000;
// The server sends a heartbeat every `interval` seconds; this many missed ones mean the
// connection is dead even if the browser has not noticed (a half-open TCP connection).
const MISSED_HEARTBEATS = 3;

export class Connection {
  constructor(path, options = {}) {
    const { onMessage, onState, minDelay = 500, maxDelay = 15000, contiguous = false } = options;
    this.path = path;
    this.onMessage = onMessage || (() => {});
    this.onState = onState || (() => {});
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.contiguous = contiguous;
    this.seq = null;
    this.epoch = null;
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
    this.openedAt = 0;
    this.stopped = true;
    this.watchdog = null;
    this.silenceMs = null;
    this.wake = () => this.reconnectSoon();
    this.goOffline = () => this.drop();
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let since = this.seq === null ? "" : `?since=${this.seq}`;
    if (since && this.epoch !== null) since += `&epoch=${encodeURIComponent(this.epoch)}`;
    return `${scheme}//${location.host}${this.path}${since}`;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    // The browser knows before we do when the network comes back or goes away.
    window.addEventListener("online", this.wake);
    window.addEventListener("offline", this.goOffline);
    document.addEventListener("visibilitychange", this.wake);
    this.open();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.wake);
    window.removeEventListener("offline", this.goOffline);
    document.removeEventListener("visibilitychange", this.wake);
    clearTimeout(this.timer);
    this.timer = null;
    clearTimeout(this.watchdog);
    this.watchdog = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close();
  }

  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  open() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    const socket = new WebSocket(this.url());
    this.socket = socket;
    this.watch(OPEN_TIMEOUT_MS);
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.openedAt = Date.now();
      this.watch(this.silenceMs);
      this.onState("open");
    };
    socket.onmessage = (event) => {
      if (this.socket === socket) this.receive(event.data);
    };
    socket.onclose = (event) => this.closed(socket, event.code);
    socket.onerror = () => {};
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;
    if (message.type === "heartbeat") {
      if (typeof message.interval === "number" && message.interval > 0) {
        this.silenceMs = message.interval * 1000 * MISSED_HEARTBEATS;
      }
      this.watch(this.silenceMs);
      return;
    }
    this.watch(this.silenceMs);
    const seq = message.seq;
    if (SNAPSHOTS.has(message.type)) {
      if (typeof seq === "number") this.seq = seq;
      if (typeof message.epoch === "string") this.epoch = message.epoch;
    } else if (typeof seq === "number" && seq > 0) {
      if (this.seq !== null && seq <= this.seq) return; // already applied before a reconnect
      if (this.contiguous && this.seq !== null && seq > this.seq + 1) {
        this.drop(); // a gap: resume from what we have rather than apply out of order
        return;
      }
      this.seq = seq;
    }
    this.onMessage(message);
  }

  // Close the current socket and retry: used on a gap, or when the browser goes offline.
  drop() {
    const socket = this.socket;
    if (!socket) return;
    this.closed(socket, 1006);
    socket.close();
  }

  // Give the current socket `ms` more to show a sign of life, or drop it (null: no limit).
  watch(ms) {
    clearTimeout(this.watchdog);
    this.watchdog = ms ? setTimeout(() => this.drop(), ms) : null;
  }

  closed(socket, code) {
    if (this.socket !== socket) return;
    this.socket = null;
    clearTimeout(this.watchdog);
    this.watchdog = null;
    if (this.openedAt && Date.now() - this.openedAt > HEALTHY_MS) this.attempt = 0;
    this.openedAt = 0;
    this.onState("closed", code);
    if (!this.stopped && code !== UNAUTHORISED) this.retry();
  }

  retry() {
    if (this.timer !== null || this.stopped) return;
    // Equal jitter: never faster than half the ceiling, so a restarted server is not
    // hit by every screen in the same instant.
    const ceiling = Math.min(this.maxDelay, this.minDelay * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt = Math.min(this.attempt + 1, 16);
    this.timer = setTimeout(() => this.open(), delay);
  }

  // The network is back or the page is visible again: skip what is left of the backoff.
  reconnectSoon() {
    if (this.stopped || this.socket || document.visibilityState === "hidden") return;
    clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
    this.retry();
  }
}
