// The console's side panels: recent decisions (activity) and the rules form.
import { ruleName } from "./moderate_model.js";

const LISTS = ["blocked_words", "blocked_authors", "trusted_authors"];
const NUMBERS = ["rate_limit_posts", "rate_limit_minutes", "flood_accounts", "flood_minutes",
  "flood_similarity"];
const FLAGS = ["hold_links", "hold_media"];
const CHOICES = ["replies", "retweets"];
const MAX_ACTIVITY = 60;

const VERBS = {
  approve: "approved", reject: "rejected", hide: "hid", undo: "undid", submit: "queued",
  pin: "pinned", unpin: "unpinned", announce: "announced", pause: "paused the wall",
  resume: "resumed the wall", mode: "switched to", rules: "changed the rules",
  restore: "showed again",
};

function clock(at) {
  const date = new Date(at * 1000);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// One line of activity: who did what to which post, and the rule involved. A post the rules
// rejected gets an "Approve anyway" button (`override`), since every automatic decision can
// be overridden.
export function activityLine({ at, actor, action, postId, after, rule, post, override }) {
  const row = document.createElement("li");
  row.className = `activity-row action-${action}`;
  const time = document.createElement("time");
  time.textContent = clock(at);
  const who = document.createElement("strong");
  who.textContent = actor === "rules" ? "Automatic rules" : actor;
  const what = document.createElement("span");
  let verb = VERBS[action] || action;
  if (action === "submit") verb = after === "pending" ? "queued" : after;
  if (action === "mode") verb += ` ${after}-moderation`;
  what.textContent = ` ${verb} `;
  row.append(time, " ", who, what);
  if (postId) {
    const target = document.createElement("span");
    target.className = "target";
    if (!post) target.textContent = postId;
    else if (post.kind === "announcement") target.textContent = `“${post.text.slice(0, 80)}”`;
    else target.textContent = `@${post.author.handle}: ${post.text.slice(0, 80)}`;
    row.append(target);
  }
  if (rule && rule !== "announcement") {
    const badge = document.createElement("span");
    badge.className = "rule-badge";
    badge.textContent = ruleName(rule);
    badge.title = rule;
    row.append(" ", badge);
  }
  if (override && action === "submit" && after === "rejected" && postId) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "override";
    button.textContent = "Approve anyway";
    button.addEventListener("click", () => {
      button.disabled = true;
      override(postId);
    });
    row.append(" ", button);
  }
  return row;
}

export function addActivity(list, entry, atTop = true) {
  const row = activityLine(entry);
  if (atTop) list.prepend(row);
  else list.append(row);
  while (list.children.length > MAX_ACTIVITY) list.lastElementChild.remove();
}

// Fill the rules form from the rules in force.
export function fillRules(form, rules) {
  for (const name of LISTS) form.elements[name].value = (rules[name] || []).join("\n");
  form.elements.languages.value = (rules.languages || []).join(", ");
  for (const name of NUMBERS) form.elements[name].value = rules[name] ?? "";
  for (const name of FLAGS) form.elements[name].checked = Boolean(rules[name]);
  for (const name of CHOICES) form.elements[name].value = rules[name];
}

// The rules the form says, as PUT /api/rules expects them.
export function readRules(form) {
  const rules = {};
  for (const name of LISTS) {
    rules[name] = form.elements[name].value.split("\n").map((s) => s.trim()).filter(Boolean);
  }
  rules.languages = form.elements.languages.value.split(",").map((s) => s.trim())
    .filter(Boolean);
  for (const name of NUMBERS) rules[name] = Number(form.elements[name].value);
  for (const name of FLAGS) rules[name] = form.elements[name].checked;
  for (const name of CHOICES) rules[name] = form.elements[name].value;
  return rules;
}
