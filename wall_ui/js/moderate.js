// The moderator console: sign in, then the live queue shared with colleagues.
// Touch first (tap, swipe right to approve, left to reject), keys A R H U J K on a laptop.
// Every command goes through the outbox (outbox.js): none is lost or applied twice.
import { Connection } from "./connection.js";
import * as P from "./protocol.js";
import { renderPost } from "./render.js";
import { Outbox } from "./outbox.js";
import { swipeable } from "./swipe.js";
import { addActivity, fillRules, readRules } from "./moderate_panels.js";

const $ = (id) => document.getElementById(id);
const wide = window.matchMedia("(min-width: 900px) and (orientation: landscape)");
const pending = new Map(); // post id -> queue item
const approved = new Map(); // post id -> item, newest first
const rows = new Map(); // post id -> <li> in the queue or the wall list
const seen = new Map(); // post id -> item, also rejected and hidden ones (activity, overrides)
let me = null;
let csrf = null;
let wall = { mode: "pre", paused: false, pinned: null };
let connection = null;
let outbox = null;
let focusId = null;
let tab = "queue";

function say(text) {
  $("notice").textContent = text;
}

function describe(item) {
  return item ? `@${item.post.author.handle}` : "the post";
}

// Posts with a decision in the outbox are out of the queue already, as far as this tablet knows.
function inFlight(id) {
  return outbox !== null && outbox.has((m) => m.type === P.DECIDE && m.id === id);
}

function hits(item) {
  const box = document.createElement("p");
  box.className = "hits";
  if (item.rule) {
    const badge = document.createElement("span");
    badge.className = `rule-badge rule-${item.rule}`;
    badge.textContent = item.rule.replace("_", " ");
    box.append(badge, " ");
  }
  if (item.reason) box.append(item.reason);
  if (item.shares > 0) {
    const shares = document.createElement("span");
    shares.className = "shares";
    shares.textContent = ` · ♻ ${item.shares} retweet${item.shares === 1 ? "" : "s"}`;
    box.append(shares);
  }
  if (item.claimed_by && item.claimed_by !== me) {
    const claim = document.createElement("span");
    claim.className = "claim";
    claim.textContent = ` · ${item.claimed_by} is reviewing it`;
    box.append(claim);
  } else if (item.claimed_by === me) {
    const claim = document.createElement("span");
    claim.className = "claim mine";
    claim.textContent = " · in your batch";
    box.append(claim);
  }
  return box;
}

function button(label, className, onClick) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = className;
  node.textContent = label;
  node.addEventListener("click", onClick);
  return node;
}

function cardRow(item) {
  const id = item.post.id;
  const row = document.createElement("li");
  row.className = "card";
  row.dataset.id = id;
  row.tabIndex = -1;
  row.append(renderPost(item.post), hits(item));
  const actions = document.createElement("div");
  actions.className = "actions";
  if (item.status === "pending") {
    actions.append(button("Reject", "reject", () => decide(id, "reject")),
      button("Approve", "approve", () => decide(id, "approve")));
    swipeable(row, { onLeft: () => decide(id, "reject"), onRight: () => decide(id, "approve") });
  } else {
    const pinned = wall.pinned === id;
    actions.append(button("Hide", "hide", () => decide(id, "hide")),
      button(pinned ? "Unpin" : "Pin", "pin", () => command(pinned ? { type: P.UNPIN }
        : { type: P.PIN, id })));
  }
  row.append(actions);
  row.addEventListener("click", () => focus(id, false));
  return row;
}

// Own batch first, then free posts, then colleagues' batches; oldest first within each.
function queueOrder() {
  const rank = (item) => (item.claimed_by === me ? 0 : item.claimed_by ? 2 : 1);
  return [...pending.values()].filter((item) => !inFlight(item.post.id))
    .sort((a, b) => rank(a) - rank(b) || a.received_at - b.received_at);
}

function renderQueue() {
  const list = $("queue");
  const items = queueOrder();
  list.replaceChildren(...items.map((item) => {
    const row = cardRow(item);
    rows.set(item.post.id, row);
    return row;
  }));
  $("queue-empty").hidden = items.length > 0;
  $("depth").textContent = String(items.length);
  $("release").hidden = !items.some((item) => item.claimed_by === me);
  if (tab === "queue" && (!focusId || !pending.has(focusId) || inFlight(focusId))) {
    focusId = items.length ? items[0].post.id : null;
  }
  markFocus();
}

function renderWall() {
  const list = $("approved");
  const items = [...approved.values()].sort((a, b) => b.updated_at - a.updated_at).slice(0, 60);
  list.replaceChildren(...items.map((item) => {
    const row = cardRow(item);
    rows.set(item.post.id, row);
    if (wall.pinned === item.post.id) row.classList.add("is-pinned");
    return row;
  }));
  const pinned = $("pinned");
  const item = wall.pinned ? approved.get(wall.pinned) : null;
  pinned.hidden = !wall.pinned;
  pinned.textContent = wall.pinned ? `Pinned: ${describe(item)}` : "";
  markFocus();
}

function renderWallState() {
  const pause = $("pause");
  pause.textContent = wall.paused ? "Resume wall" : "Pause wall";
  pause.setAttribute("aria-pressed", String(wall.paused));
  document.body.classList.toggle("wall-paused", wall.paused);
  const mode = $("mode");
  mode.textContent = wall.mode === "post" ? "Post-moderation" : "Pre-moderation";
  mode.setAttribute("aria-pressed", String(wall.mode === "post"));
}

function markFocus() {
  for (const row of document.querySelectorAll(".card.focused")) row.classList.remove("focused");
  const row = focusId ? rows.get(focusId) : null;
  if (row && row.isConnected) {
    row.classList.add("focused");
    row.scrollIntoView({ block: "nearest" });
  }
}

function focus(id) {
  focusId = id;
  markFocus();
}

function moveFocus(step) {
  const list = tab === "wall" ? $("approved") : $("queue");
  const ids = [...list.children].map((row) => row.dataset.id);
  if (!ids.length) return;
  const at = ids.indexOf(focusId);
  focus(ids[Math.max(0, Math.min(ids.length - 1, at < 0 ? 0 : at + step))]);
}

function command(message) {
  outbox.send(message);
  updateBanner();
}

function decide(id, action) {
  const item = pending.get(id) || approved.get(id);
  if (!item) return;
  const next = action === "hide" ? null : queueOrder().map((i) => i.post.id)
    .find((other) => other !== id);
  command({ type: P.DECIDE, id, action, expected: item.status });
  if (item.status === "pending") {
    if (focusId === id) focusId = next || null;
    renderQueue();
  }
}

function updateBanner() {
  const banner = $("banner");
  const open = connection && connection.socket && connection.socket.readyState === WebSocket.OPEN;
  const waiting = outbox ? outbox.size : 0;
  if (!open) {
    banner.textContent = "Connection lost — reconnecting. Your decisions are kept and sent"
      + ` as soon as it is back${waiting ? ` (${waiting} waiting)` : ""}.`;
  } else {
    banner.textContent = waiting ? `Sending ${waiting} decision(s)…` : "";
  }
  banner.hidden = !banner.textContent;
  banner.classList.toggle("offline", !open);
}

function override(id) {
  command({ type: P.DECIDE, id, action: "approve", expected: "rejected" });
}

function activity(entry, atTop = true) {
  const item = pending.get(entry.postId) || approved.get(entry.postId);
  const known = item || seen.get(entry.postId);
  const post = known ? known.post : null;
  addActivity($("activity"), { ...entry, post, override }, atTop);
}

function place(item) {
  const id = item.post.id;
  seen.set(id, item);
  if (seen.size > 500) seen.delete(seen.keys().next().value);
  pending.delete(id);
  approved.delete(id);
  if (item.status === "pending") pending.set(id, item);
  else if (item.status === "approved") approved.set(id, item);
}

function onSnapshot(message) {
  pending.clear();
  approved.clear();
  for (const item of message.pending) pending.set(item.post.id, item);
  for (const item of message.approved || []) approved.set(item.post.id, item);
  wall = message.wall || wall;
  me = message.moderator || me;
  $("me").textContent = me || "";
  $("activity").replaceChildren();
  for (const entry of message.recent || []) activity({ ...entry, postId: entry.post_id }, false);
  if (message.rules && !$("rules").contains(document.activeElement)) {
    fillRules($("rules"), message.rules);
  }
  renderQueue();
  renderWall();
  renderWallState();
  updateBanner();
}

function onDecided(message) {
  const item = message.item || pending.get(message.id) || approved.get(message.id)
    || seen.get(message.id);
  activity({ at: Date.now() / 1000, actor: message.moderator, action: message.action,
    postId: message.id, after: message.status, rule: message.rule });
  if (item) {
    place({ ...item, status: message.status, decided_by: message.moderator,
      updated_at: Date.now() / 1000, claimed_by: null });
  }
  if (message.moderator !== me && message.moderator !== "rules") {
    say(`${message.moderator} ${message.action === "undo" ? "undid a decision on"
      : `${message.status}`} ${describe(item)}`);
  }
  renderQueue();
  renderWall();
}

function onClaims(message, claimed) {
  for (const id of message.ids) {
    const item = pending.get(id);
    if (!item) continue;
    item.claimed_by = claimed ? message.moderator : null;
    item.claim_until = claimed ? message.until : null;
  }
  renderQueue();
}

// One more retweet counted toward a post: redraw its count where it is listed.
function onShares(message) {
  const item = pending.get(message.id) || approved.get(message.id) || seen.get(message.id);
  if (!item) return;
  item.shares = message.shares;
  // In place: a popular post must not redraw the whole queue at every retweet.
  const row = rows.get(message.id);
  const line = row && row.isConnected ? row.querySelector(":scope > .hits") : null;
  if (line) line.replaceWith(hits(item));
}

// A command refused because the server cannot reach its store (a Redis restart) is kept in
// the outbox and sent again, under the same ref, until the store is back.
let retryTimer = null;

function onAnswer(message) {
  if (message.type === P.ERROR && message.code === P.ErrorCode.STORE_UNAVAILABLE
      && outbox.has((m) => m.ref === message.ref)) {
    if (retryTimer === null) {
      retryTimer = setTimeout(() => { retryTimer = null; outbox.flush(); }, 1000);
    }
    say("The server cannot reach its store right now: your decisions are kept and sent again.");
    updateBanner();
    return;
  }
  const sent = outbox.settle(message.ref);
  updateBanner();
  if (!sent) return;
  if (message.type === P.ERROR) {
    say(message.code === P.ErrorCode.CONFLICT ? `Not applied: ${message.message}` : message.message);
    renderQueue();
  } else if (sent.type === P.UNDO) {
    say(`Undone: ${message.undone} of ${describe(pending.get(message.id)
      || approved.get(message.id))}`);
  } else if (sent.type === P.ANNOUNCE) {
    say("The announcement is on the wall.");
    $("announce-text").value = "";
  } else if (sent.type === P.CLAIM) {
    say(message.ids.length ? `${message.ids.length} posts are yours to review.`
      : "No free posts to take.");
  }
}

function onMessage(message) {
  switch (message.type) {
    case P.QUEUE_SNAPSHOT: onSnapshot(message); break;
    case P.QUEUE_ADDED: {
      place(message.item);
      if (message.item.status !== "pending") {
        activity({ at: message.item.received_at, actor: message.item.decided_by || "rules",
          action: "submit", postId: message.item.post.id, after: message.item.status,
          rule: message.item.rule });
      }
      renderQueue();
      renderWall();
      break;
    }
    case P.QUEUE_DECIDED: onDecided(message); break;
    case P.QUEUE_CLAIMED: onClaims(message, true); break;
    case P.QUEUE_RELEASED: onClaims(message, false); break;
    case P.QUEUE_SHARES: onShares(message); break;
    case P.POST_PINNED: wall = { ...wall, pinned: message.id }; renderWall(); break;
    case P.POST_UNPINNED: wall = { ...wall, pinned: null }; renderWall(); break;
    case P.WALL_PAUSED: wall = { ...wall, paused: true }; renderWallState(); break;
    case P.WALL_RESUMED: wall = { ...wall, paused: false }; renderWallState(); break;
    case P.WALL_MODE: wall = { ...wall, mode: message.mode }; renderWallState(); break;
    case P.RULES_CHANGED: fillRules($("rules"), message.rules); break;
    case P.ACK:
    case P.ERROR: onAnswer(message); break;
    default: break;
  }
}

function showTab(name) {
  tab = name;
  for (const button of document.querySelectorAll("[role=tab]")) {
    const side = name === "queue" && wide.matches ? "wall" : name;
    button.setAttribute("aria-selected", String(button.dataset.tab === side));
  }
  const side = name === "queue" ? "wall" : name;
  for (const pane of document.querySelectorAll(".pane")) {
    const which = pane.dataset.pane;
    pane.hidden = wide.matches ? which !== "queue" && which !== side : which !== name;
  }
}

async function post(path, body, method = "POST") {
  const response = await fetch(path, {
    method, headers: { "content-type": "application/json", "x-csrf-token": csrf || "" },
    body: JSON.stringify(body),
  });
  return [response.ok, await response.json()];
}

function start(moderator, token) {
  me = moderator;
  csrf = token;
  $("login").hidden = true;
  $("console").hidden = false;
  $("me").textContent = me;
  connection = new Connection("/ws/moderate", {
    onMessage,
    onState(state, code) {
      // Whatever was not answered before the socket dropped goes again, in order.
      if (state === "open") outbox.flush();
      if (code === 4401) {
        connection.stop();
        $("console").hidden = true;
        $("login").hidden = false;
      }
      updateBanner();
    },
  });
  outbox = new Outbox(me, connection);
  connection.start();
  updateBanner();
}

function bind() {
  for (const button of document.querySelectorAll("[role=tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  wide.addEventListener("change", () => showTab(tab));
  $("undo").addEventListener("click", () => command({ type: P.UNDO }));
  $("claim").addEventListener("click", () => command({ type: P.CLAIM, size: 10 }));
  $("release").addEventListener("click", () => command({ type: P.RELEASE }));
  $("pause").addEventListener("click", () => command({ type: wall.paused ? P.RESUME : P.PAUSE }));
  $("mode").addEventListener("click", () => {
    const next = wall.mode === "post" ? "pre" : "post";
    const warning = next === "post"
      ? "Post-moderation shows new posts at once unless a rule holds them. Switch?"
      : "Pre-moderation: nothing new is shown until approved. Switch?";
    if (window.confirm(warning)) command({ type: P.MODE, mode: next });
  });
  $("announce").addEventListener("submit", (event) => {
    event.preventDefault();
    command({ type: P.ANNOUNCE, text: $("announce-text").value });
  });
  $("rules").addEventListener("submit", async (event) => {
    event.preventDefault();
    const [ok, body] = await post("/api/rules", readRules($("rules")), "PUT");
    $("rules-status").textContent = ok ? "Saved: the next posts follow these rules." : body.error;
  });
  $("logout").addEventListener("click", async () => {
    await post("/api/logout", {});
    window.location.reload();
  });
  document.addEventListener("keydown", (event) => {
    if (!connection || event.ctrlKey || event.metaKey || event.altKey
      || event.target.closest("input, textarea, select")) return;
    const key = event.key.toLowerCase();
    const item = focusId ? pending.get(focusId) || approved.get(focusId) : null;
    if (key === "j" || key === "arrowdown") moveFocus(1);
    else if (key === "k" || key === "arrowup") moveFocus(-1);
    else if (key === "u") command({ type: P.UNDO });
    else if (key === "a" && item && item.status === "pending") decide(focusId, "approve");
    else if (key === "r" && item && item.status === "pending") decide(focusId, "reject");
    else if (key === "h" && item && item.status === "approved") decide(focusId, "hide");
    else return;
    event.preventDefault();
  });
  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData($("login"));
    const [ok, body] = await post("/api/login", { name: data.get("name"),
      password: data.get("password") });
    if (ok) start(body.moderator, body.csrf);
    else $("login-error").textContent = body.error;
  });
}

bind();
showTab("queue");
fetch("/api/me").then((r) => r.json()).then((who) => {
  if (who.public_url && who.origin_ok === false) {
    say(`This console is open at ${window.location.origin}, but HASHWALL_PUBLIC_URL is`
      + ` ${who.public_url}: the live queue only connects from the public address.`);
  }
  if (who.moderator) start(who.moderator, who.csrf);
  else $("login").hidden = false;
}).catch(() => {
  $("login").hidden = false;
});
