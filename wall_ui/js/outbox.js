// The console's outbox: every command gets a unique ref and stays here until the server
// answers it. Unanswered commands are sent again, in order, each time the socket opens; the
// server answers a ref it already applied with `repeat: true`, so nothing is lost or doubled.
// The outbox survives a page reload (localStorage), per moderator.

const KEY = "hashwall.outbox.";

// 128 random bits as hex; crypto.getRandomValues works on plain http too (randomUUID does not).
export function newRef() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Outbox {
  constructor(moderator, connection) {
    this.key = KEY + moderator;
    this.connection = connection;
    this.pending = new Map();
    try {
      for (const message of JSON.parse(localStorage.getItem(this.key) || "[]")) {
        if (message && typeof message.ref === "string") this.pending.set(message.ref, message);
      }
    } catch {
      // A corrupt saved outbox is dropped rather than blocking the console.
    }
  }

  save() {
    try {
      localStorage.setItem(this.key, JSON.stringify([...this.pending.values()]));
    } catch {
      // Private browsing may refuse storage: the outbox still works in memory.
    }
  }

  get size() {
    return this.pending.size;
  }

  // Queue a command and send it now if the socket is open; returns its ref.
  send(message) {
    const full = { ...message, ref: newRef() };
    this.pending.set(full.ref, full);
    this.save();
    this.connection.send(full);
    return full.ref;
  }

  // Send every unanswered command again, oldest first (after a reconnect).
  flush() {
    for (const message of this.pending.values()) {
      if (!this.connection.send(message)) break;
    }
  }

  // The server answered `ref`: forget it and return the command it answered, if ours.
  settle(ref) {
    const message = this.pending.get(ref);
    if (!message) return null;
    this.pending.delete(ref);
    this.save();
    return message;
  }

  has(predicate) {
    for (const message of this.pending.values()) if (predicate(message)) return true;
    return false;
  }
}
