// The moderator console: sign in, then the live pending queue with approve and reject.
import { Connection } from "./connection.js";
import { ACK, DECIDE, ERROR, QUEUE_ADDED, QUEUE_DECIDED, QUEUE_SNAPSHOT } from "./protocol.js";
import { renderPost } from "./render.js";

const loginForm = document.getElementById("login");
const consoleBox = document.getElementById("console");
const queue = document.getElementById("queue");
const notice = document.getElementById("notice");
const depth = document.getElementById("depth");
const items = new Map();
let connection = null;
let ref = 0;

function say(text) {
  notice.textContent = text;
}

function updateDepth() {
  depth.textContent = String(items.size);
}

function addItem(item) {
  if (item.status !== "pending" || items.has(item.post.id)) return;
  const row = document.createElement("li");
  row.className = "item";
  row.dataset.id = item.post.id;
  row.append(renderPost(item.post));
  if (item.rule) {
    const rule = document.createElement("p");
    rule.className = "rule";
    rule.textContent = `${item.rule}${item.reason ? ": " + item.reason : ""}`;
    row.append(rule);
  }
  const actions = document.createElement("div");
  actions.className = "actions";
  for (const action of ["approve", "reject"]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = action;
    button.dataset.action = action;
    button.textContent = action === "approve" ? "Approve" : "Reject";
    button.addEventListener("click", () => decide(item.post.id, action));
    actions.append(button);
  }
  row.append(actions);
  items.set(item.post.id, row);
  queue.append(row);
  updateDepth();
}

function removeItem(id) {
  const row = items.get(id);
  if (!row) return;
  items.delete(id);
  row.remove();
  updateDepth();
}

function decide(id, action) {
  ref += 1;
  if (!connection.send({ type: DECIDE, id, action, expected: "pending", ref })) {
    say("Not connected: the decision was not sent.");
  }
}

function start() {
  loginForm.hidden = true;
  consoleBox.hidden = false;
  connection = new Connection("/ws/moderate", {
    onMessage(message) {
      if (message.type === QUEUE_SNAPSHOT) {
        items.clear();
        queue.replaceChildren();
        for (const item of message.pending) addItem(item);
        updateDepth();
      } else if (message.type === QUEUE_ADDED) {
        addItem(message.item);
      } else if (message.type === QUEUE_DECIDED) {
        if (message.status !== "pending") removeItem(message.id);
      } else if (message.type === ERROR) {
        say(message.message);
      } else if (message.type === ACK) {
        say(`${message.action}: ${message.id}`);
      }
    },
    onState(state, code) {
      if (code === 4401) {
        consoleBox.hidden = true;
        loginForm.hidden = false;
      }
      say(state === "open" ? "Connected." : "Connection lost, reconnecting…");
    },
  });
  connection.start();
}

loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(loginForm);
  const response = await fetch("/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: data.get("name"), password: data.get("password") }),
  });
  if (response.ok) start();
  else document.getElementById("login-error").textContent = (await response.json()).error;
});

fetch("/api/me")
  .then((r) => r.json())
  .then((me) => {
    if (me.moderator) start();
  });
