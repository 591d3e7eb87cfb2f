// One websocket that reconnects by itself (exponential backoff with jitter) and
// resumes with ?since= so that nothing is missed and nothing arrives twice.
export class Connection {
  constructor(path, { onMessage, onState, minDelay = 500, maxDelay = 15000 } = {}) {
    this.path = path;
    this.onMessage = onMessage || (() => {});
    this.onState = onState || (() => {});
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.seq = null;
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
    this.stopped = false;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const since = this.seq === null ? "" : `?since=${this.seq}`;
    return `${scheme}//${location.host}${this.path}${since}`;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close();
  }

  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  open() {
    clearTimeout(this.timer);
    this.timer = null;
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.onState("open");
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (typeof message.seq === "number" && message.seq > 0) {
        if (message.type === "snapshot" || message.type === "queue.snapshot") {
          this.seq = message.seq;
        } else if (this.seq !== null && message.seq <= this.seq) {
          return; // already applied before a reconnect
        } else {
          this.seq = message.seq;
        }
      } else if (message.type === "snapshot" || message.type === "queue.snapshot") {
        this.seq = message.seq;
      }
      this.onMessage(message);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.onState("closed", event.code);
      if (!this.stopped && event.code !== 4401) this.retry();
    };
    socket.onerror = () => {};
  }

  retry() {
    if (this.timer !== null) return;
    const ceiling = Math.min(this.maxDelay, this.minDelay * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt += 1;
    this.timer = setTimeout(() => this.open(), delay);
  }
}
