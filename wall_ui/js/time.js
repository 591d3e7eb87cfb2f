// Relative times ("il y a 5 min", "2 hours ago") in the page's language.
import { t } from "./i18n.js";

const formatters = new Map();

function formatter(kind, lang) {
  const key = `${kind}:${lang}`;
  if (!formatters.has(key)) {
    formatters.set(key, kind === "relative"
      ? new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "long" })
      : new Intl.DateTimeFormat(lang, { day: "numeric", month: "short", year: "numeric" }));
  }
  return formatters.get(key);
}

const STEPS = [
  ["minute", 60, 3600],
  ["hour", 3600, 86400],
  ["day", 86400, 7 * 86400],
];

export function relativeTime(iso, lang, now = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.round((now - then) / 1000);
  // A post from a clock slightly ahead of ours is "just now", not "in 3 seconds".
  if (seconds < 45) return t("justNow");
  for (const [unit, size, until] of STEPS) {
    if (seconds < until) {
      return formatter("relative", lang).format(-Math.max(1, Math.round(seconds / size)), unit);
    }
  }
  return formatter("date", lang).format(new Date(then));
}

// Rewrites every relative time under `root`: one pass, called by the page's single clock.
export function refreshTimes(root, lang, now = Date.now()) {
  for (const node of root.querySelectorAll("time.ago")) {
    const text = relativeTime(node.dateTime, lang, now);
    if (node.textContent !== text) node.textContent = text;
  }
}
