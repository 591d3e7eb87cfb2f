// The moderator console's view: sign in, then the live queue shared with colleagues. The
// queue's state lives in moderate_model.js; this module draws what each message changed.
// Touch first (tap, swipe right to approve, left to reject), keys A R H U J K on a laptop.
// Every command goes through the outbox (outbox.js): none is lost or applied twice.
import { Connection } from "./connection.js";
import * as P from "./protocol.js";
import { renderPost } from "./render.js";
import { Outbox } from "./outbox.js";
import { swipeable } from "./swipe.js";
import { addActivity, fillRules, readRules } from "./moderate_panels.js";
import { QueueModel, describe, ruleName } from "./moderate_model.js";
import { KeyedList } from "./keyed_list.js";
import { showSources } from "./moderate_sources.js";

const $ = (id) => document.getElementById(id);
const wide = window.matchMedia("(min-width: 900px) and (orientation: landscape)");
const model = new QueueModel();
let csrf = null;
let connection = null;
let outbox = null;
let focusId = null;
let tab = "queue";
let sideTab = "wall"; // the pane beside the queue on wide screens

function say(text) {
  $("notice").textContent = text;
}

// Posts with a decision in the outbox are out of the queue already, as far as this tablet knows.
function inFlight(id) {
  return outbox !== null && outbox.has((m) => m.type === P.DECIDE && m.id === id);
}

function hits(item) {
  const me = model.me;
  const box = document.createElement("p");
  box.className = "hits";
  if (item.rule) {
    const badge = document.createElement("span");
    badge.className = `rule-badge rule-${item.rule}`;
    badge.textContent = ruleName(item.rule);
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

function cardRow({ item }) {
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
    const pinned = model.wall.pinned === id;
    row.classList.toggle("is-pinned", pinned);
    actions.append(button("Hide", "hide", () => decide(id, "hide")),
      button(pinned ? "Unpin" : "Pin", "pin", () => command(pinned ? { type: P.UNPIN }
        : { type: P.PIN, id })));
  }
  row.append(actions);
  row.addEventListener("click", () => focus(id));
  if (id === focusId) row.classList.add("focused");
  return row;
}

const queueList = new KeyedList($("queue"), cardRow);
const wallList = new KeyedList($("approved"), cardRow);

function renderQueue() {
  const items = model.queueOrder(inFlight);
  // A card shows whose batch it is in, so it changes with the signed-in name.
  queueList.render(items.map((item) => ({ id: item.post.id, item, extra: model.me || "" })));
  const empty = items.length === 0;
  if ($("queue-empty").hidden !== !empty) $("queue-empty").hidden = !empty;
  const depth = String(items.length);
  if ($("depth").textContent !== depth) $("depth").textContent = depth;
  if ($("queue-count").textContent !== depth) $("queue-count").textContent = depth;
  const mine = items.some((item) => item.claimed_by === model.me);
  if ($("release").hidden !== !mine) $("release").hidden = !mine;
  if (tab === "queue" && (!focusId || !model.pending.has(focusId) || inFlight(focusId))) {
    focus(items.length ? items[0].post.id : null);
  }
}

function renderWall() {
  const pinnedId = model.wall.pinned;
  const listed = model.wallOrder();
  wallList.render(listed.map((item) => ({
    id: item.post.id, item, extra: pinnedId === item.post.id ? "pinned" : "",
  })));
  if ($("approved-empty").hidden !== listed.length > 0) {
    $("approved-empty").hidden = listed.length > 0;
  }
  const pinned = $("pinned");
  const text = pinnedId ? `Pinned: ${describe(model.approved.get(pinnedId))}` : "";
  if (pinned.textContent !== text) pinned.textContent = text;
  if (pinned.hidden !== !pinnedId) pinned.hidden = !pinnedId;
}

function renderWallState() {
  const { paused, mode: wallMode } = model.wall;
  const pause = $("pause");
  pause.querySelector(".label").textContent = paused ? "Resume wall" : "Pause wall";
  pause.querySelector(".tool-hint").textContent = paused ? "the screens are frozen"
    : "freeze the screens";
  pause.setAttribute("aria-pressed", String(paused));
  document.body.classList.toggle("wall-paused", paused);
  const mode = $("mode");
  mode.querySelector(".label").textContent = wallMode === "post" ? "Post-moderation"
    : "Pre-moderation";
  mode.querySelector(".tool-hint").textContent = wallMode === "post" ? "shown at once"
    : "approve before showing";
  mode.setAttribute("aria-pressed", String(wallMode === "post"));
  for (const choice of document.querySelectorAll(".themes [data-theme]")) {
    choice.setAttribute("aria-pressed", String(choice.dataset.theme === model.wall.theme));
  }
}

function rowOf(id) {
  return id ? queueList.get(id) || wallList.get(id) : null;
}

// Only the card losing the focus and the card gaining it change.
function focus(id) {
  const before = rowOf(focusId);
  if (before) before.classList.remove("focused");
  focusId = id;
  const row = rowOf(id);
  if (row && row.isConnected) {
    row.classList.add("focused");
    row.scrollIntoView({ block: "nearest" });
  }
}

function moveFocus(step) {
  const ids = (tab === "wall" ? wallList : queueList).ids();
  if (!ids.length) return;
  const at = ids.indexOf(focusId);
  focus(ids[Math.max(0, Math.min(ids.length - 1, at < 0 ? 0 : at + step))]);
}

function command(message) {
  outbox.send(message);
  updateBanner();
}

function decide(id, action) {
  const item = model.pending.get(id) || model.approved.get(id);
  if (!item) return;
  const next = item.status === "pending" ? model.nextAfter(id, inFlight) : null;
  command({ type: P.DECIDE, id, action, expected: item.status });
  if (item.status === "pending") {
    if (focusId === id) focus(next);
    renderQueue();
  }
}

function updateBanner() {
  const banner = $("banner");
  const open = connection && connection.socket && connection.socket.readyState === WebSocket.OPEN;
  const waiting = outbox ? outbox.size : 0;
  let text = "";
  if (!open) {
    text = "Connection lost — reconnecting. Your decisions are kept and sent"
      + ` as soon as it is back${waiting ? ` (${waiting} waiting)` : ""}.`;
  } else if (waiting) {
    text = `Sending ${waiting} decision(s)…`;
  }
  if (banner.textContent !== text) banner.textContent = text;
  if (banner.hidden !== !text) banner.hidden = !text;
  if (banner.classList.contains("offline") === open) banner.classList.toggle("offline", !open);
}

function override(id) {
  command({ type: P.DECIDE, id, action: "approve", expected: "rejected" });
}

function activity(entry, atTop = true) {
  const known = model.item(entry.postId);
  addActivity($("activity"), { ...entry, post: known ? known.post : null, override }, atTop);
}

// Draw what one message changed, and only that.
function show(changed) {
  if (changed.all) {
    $("me").textContent = model.me || "";
    $("activity").replaceChildren();
    for (const entry of changed.activity) activity(entry, false);
  } else {
    for (const entry of changed.activity) activity(entry);
  }
  if (changed.rules && !$("rules").contains(document.activeElement)) {
    fillRules($("rules"), changed.rules);
  }
  const listed = [...changed.ids].some((id) => queueList.get(id) || wallList.get(id));
  if (changed.queue || changed.all || listed) renderQueue();
  if (changed.wall || changed.all || listed) renderWall();
  if (changed.wallState) renderWallState();
  if (changed.notice) say(changed.notice);
  if (changed.all) updateBanner();
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
    say(`Undone: ${message.undone} of ${describe(model.pending.get(message.id)
      || model.approved.get(message.id))}`);
  } else if (sent.type === P.ANNOUNCE) {
    say("The announcement is on the wall.");
    $("announce-text").value = "";
  } else if (sent.type === P.CLAIM) {
    say(message.ids.length ? `${message.ids.length} posts are yours to review.`
      : "No free posts to take.");
  }
}

// The snapshot holds the oldest part of a long queue; the rest comes page by page from
// GET /api/posts, merged into what the socket said meanwhile.
async function loadRest(after) {
  const generation = model.generation;
  while (after && generation === model.generation) {
    const query = new URLSearchParams({ status: "pending", limit: "500", after });
    let body;
    try {
      const response = await fetch(`/api/posts?${query}`);
      if (!response.ok) return;
      body = await response.json();
    } catch {
      return; // a lost connection brings a new snapshot, which starts paging again
    }
    if (generation !== model.generation) return;
    show(model.merge(body.items || []));
    after = body.next;
  }
}

function onMessage(message) {
  if (message.type === P.ACK || message.type === P.ERROR) {
    onAnswer(message);
    return;
  }
  show(model.apply(message));
  if (message.type === P.QUEUE_SNAPSHOT) loadRest(model.rest(message));
}

// Narrow screens show one pane at a time. Wide ones (landscape tablets, laptops) keep the
// queue on the left and show the chosen pane on the right; there the Queue tab brings the
// queue's first card back into view.
function showTab(name) {
  const side = name === "queue" ? (wide.matches ? sideTab : "wall") : name;
  if (name !== "queue") sideTab = name;
  tab = name;
  for (const button of document.querySelectorAll("[role=tab]")) {
    const which = button.dataset.tab;
    const selected = wide.matches ? which === side : which === name;
    button.setAttribute("aria-selected", String(selected));
  }
  for (const pane of document.querySelectorAll(".pane")) {
    const which = pane.dataset.pane;
    pane.hidden = wide.matches ? which !== "queue" && which !== side : which !== name;
  }
  if (name === "queue" && wide.matches) {
    $("pane-queue").scrollIntoView({ block: "start" });
  }
}

async function post(path, body, method = "POST") {
  const response = await fetch(path, {
    method, headers: { "content-type": "application/json", "x-csrf-token": csrf || "" },
    body: JSON.stringify(body),
  });
  return [response.ok, await response.json()];
}

// How long a throttled sign-in must wait, in seconds: the JSON `retry_after` field, else the
// Retry-After header (seconds), else null.
function waitSeconds(response, body) {
  const field = body && Number(body.retry_after);
  if (Number.isFinite(field) && field > 0) return Math.ceil(field);
  const header = Number(response.headers.get("retry-after"));
  return Number.isFinite(header) && header > 0 ? Math.ceil(header) : null;
}

let loginTimer = null;

// Count the wait down on the page, the Sign in button disabled until it is over.
function throttled(seconds) {
  const error = $("login-error");
  const submit = $("sign-in");
  clearInterval(loginTimer);
  let left = seconds;
  const tick = () => {
    if (left <= 0) {
      clearInterval(loginTimer);
      submit.disabled = false;
      error.textContent = "You can try again now.";
      return;
    }
    submit.disabled = true;
    error.textContent = `Too many failed sign-ins from here: try again in ${left} s.`;
    left -= 1;
  };
  tick();
  loginTimer = setInterval(tick, 1000);
}

// The name last signed in with on this device: no name is shared by default, so that the
// log tells moderators apart, yet a tablet's moderator does not type it every time.
const NAME_KEY = "hashwall.moderator-name";

function rememberedName() {
  try {
    return window.localStorage.getItem(NAME_KEY) || "";
  } catch {
    return "";  // storage refused (private browsing): nothing remembered
  }
}

function rememberName(name) {
  try {
    window.localStorage.setItem(NAME_KEY, name);
  } catch {
    // storage refused: the name is typed next time
  }
}

async function signIn() {
  const data = new FormData($("login"));
  let response;
  let body = {};
  try {
    response = await fetch("/api/login", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: data.get("name"), password: data.get("password") }),
    });
    body = await response.json().catch(() => ({}));
  } catch {
    $("login-error").textContent = "The server cannot be reached: check the connection.";
    return;
  }
  if (response.ok) {
    rememberName(body.moderator);
    start(body.moderator, body.csrf);
    return;
  }
  const seconds = response.status === 429 ? waitSeconds(response, body) : null;
  if (seconds) throttled(seconds);
  else $("login-error").textContent = body.error || `Sign-in refused (${response.status}).`;
}

// The switch between pre- and post-moderation asks on the page, not in a browser dialog.
function askMode() {
  const next = model.wall.mode === "post" ? "pre" : "post";
  $("mode-question").textContent = next === "post"
    ? "Post-moderation shows new posts on the wall at once, unless a rule holds them."
    : "Pre-moderation shows nothing new until a moderator approves it.";
  $("mode-yes").textContent = next === "post" ? "Switch to post-moderation"
    : "Switch to pre-moderation";
  $("mode-yes").dataset.mode = next;
  $("mode-confirm").hidden = false;
  $("mode").setAttribute("aria-expanded", "true");
  $("mode-no").focus();
}

function closeMode() {
  $("mode-confirm").hidden = true;
  $("mode").setAttribute("aria-expanded", "false");
}

const HEALTH_EVERY_MS = 15_000;

async function pollSources() {
  try {
    const response = await fetch("/healthz", { cache: "no-store" });
    const failing = showSources($("sources"), await response.json());
    $("sources-alert").hidden = !failing;
  } catch {
    // The connection banner already says the server is out of reach.
  }
}

function start(moderator, token) {
  model.me = moderator;
  csrf = token;
  $("login").hidden = true;
  $("console").hidden = false;
  $("me").textContent = moderator;
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
  outbox = new Outbox(moderator, connection);
  connection.start();
  updateBanner();
  pollSources();
  setInterval(pollSources, HEALTH_EVERY_MS);
}

function bind() {
  for (const button of document.querySelectorAll("[role=tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  wide.addEventListener("change", () => showTab(tab));
  $("undo").addEventListener("click", () => command({ type: P.UNDO }));
  $("claim").addEventListener("click", () => command({ type: P.CLAIM, size: 10 }));
  $("release").addEventListener("click", () => command({ type: P.RELEASE }));
  $("pause").addEventListener("click", () => command({ type: model.wall.paused ? P.RESUME : P.PAUSE }));
  $("mode").addEventListener("click", askMode);
  for (const choice of document.querySelectorAll(".themes [data-theme]")) {
    choice.addEventListener("click", () => command({ type: P.THEME, theme: choice.dataset.theme }));
  }
  // Which theme the screens show now (later switches come over the socket).
  fetch("/api/config").then((r) => r.json()).then((config) => {
    if (!model.wall.theme) show(model.apply({ type: P.WALL_THEME, theme: config.theme }));
  }).catch(() => {});
  $("mode-no").addEventListener("click", closeMode);
  $("mode-yes").addEventListener("click", () => {
    command({ type: P.MODE, mode: $("mode-yes").dataset.mode });
    closeMode();
  });
  $("announce").addEventListener("submit", (event) => {
    event.preventDefault();
    const duration = Number($("announce-duration").value);
    command({ type: P.ANNOUNCE, text: $("announce-text").value,
      ...(duration > 0 ? { duration } : {}) });
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
    const item = focusId ? model.pending.get(focusId) || model.approved.get(focusId) : null;
    if (key === "j" || key === "arrowdown") moveFocus(1);
    else if (key === "k" || key === "arrowup") moveFocus(-1);
    else if (key === "u") command({ type: P.UNDO });
    else if (key === "a" && item && item.status === "pending") decide(focusId, "approve");
    else if (key === "r" && item && item.status === "pending") decide(focusId, "reject");
    else if (key === "h" && item && item.status === "approved") decide(focusId, "hide");
    else return;
    event.preventDefault();
  });
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn();
  });
  // The sticky header's height, so that a focused card never scrolls under it.
  new ResizeObserver(() => {
    const height = document.querySelector(".console .bar").offsetHeight;
    document.documentElement.style.setProperty("--bar-height", `${height}px`);
  }).observe(document.querySelector(".console .bar"));
}

bind();
showTab("queue");
$("login").elements.name.value = rememberedName();
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
