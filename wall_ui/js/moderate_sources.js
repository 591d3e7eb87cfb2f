// The console's Sources panel: each source's health as /healthz reports it, in words.
// Sources report different fields (X its month's reads and budget, Mastodon and Bluesky one
// entry per server or host), so every field is shown, named in words, nested one level.

const NAMES = {
  ok: "Working", state: "State", connected: "Connected", connected_since: "Connected since",
  last_keep_alive: "Last keep-alive", last_item: "Last item", reconnects: "Reconnects",
  posts_received: "Posts received", items_received: "Items received",
  duplicates_dropped: "Duplicates dropped", malformed_items: "Malformed items",
  last_error: "Last error", retry_in: "Retry in (s)", rules: "Rules", file: "File",
  lines_read: "Lines read", posts: "Posts", errors: "Errors",
};

// "month_reads" → "Month reads": an unknown field still reads as words.
export function fieldName(key) {
  if (NAMES[key]) return NAMES[key];
  const words = String(key).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function valueText(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") return Number.isInteger(value) ? String(value)
    : value.toFixed(2);
  if (Array.isArray(value)) return value.map(valueText).join(", ") || "—";
  return String(value);
}

function fields(health, depth = 0) {
  const list = document.createElement("dl");
  list.className = "fields";
  for (const [key, value] of Object.entries(health)) {
    if (key === "ok" || key === "source") continue;
    const term = document.createElement("dt");
    term.textContent = fieldName(key);
    const detail = document.createElement("dd");
    if (value && typeof value === "object" && !Array.isArray(value) && depth < 2) {
      detail.append(fields(value, depth + 1));
    } else {
      detail.textContent = valueText(value);
    }
    list.append(term, detail);
  }
  return list;
}

// Draw every source; returns whether one of them is failing (for the tab's mark).
export function showSources(list, health) {
  const sources = health && typeof health.sources === "object" ? health.sources : {};
  const rows = [];
  let failing = false;
  for (const [name, state] of Object.entries(sources)) {
    const row = document.createElement("li");
    const ok = !state || state.ok !== false;
    failing ||= !ok;
    row.className = `source ${ok ? "is-ok" : "is-failing"}`;
    const head = document.createElement("h3");
    head.textContent = `${name} — ${ok ? "working" : "failing"}`
      + (state && state.state ? ` (${state.state})` : "");
    row.append(head, fields(state || {}));
    rows.push(row);
  }
  if (!rows.length) {
    const row = document.createElement("li");
    row.className = "source";
    row.textContent = "No source runs: posts come only from the API.";
    rows.push(row);
  }
  list.replaceChildren(...rows);
  return failing;
}
