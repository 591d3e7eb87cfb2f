// The event's branding from GET /api/config: title, hashtags, logo, colours, font, layout.
import { setLanguage } from "./i18n.js";
import { safeUrl, useLogo, usePhotos } from "./render.js";

const DEFAULTS = {
  title: document.title,
  hashtags: [],
  language: document.documentElement.lang || "fr",
  logo_url: null,
  colors: {},
  font_family: "",
  layout: "grid",
  rotate_seconds: 12,
  phone_url: `${location.origin}/`,
  qr_url: "/api/qr.svg",
};

// The config, retried a few times; the page still works with defaults if it never comes.
export async function loadConfig(attempts = 4) {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    try {
      const response = await fetch("/api/config", { cache: "no-cache" });
      if (response.ok) return { ...DEFAULTS, ...(await response.json()) };
    } catch {
      // The server may be restarting: try again shortly.
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
  }
  return DEFAULTS;
}

// Colours and font become CSS custom properties (CSSOM, allowed by the CSP).
export function applyBranding(config, root = document.documentElement) {
  const colors = config.colors || {};
  for (const [name, value] of Object.entries(colors)) {
    if (typeof value === "string" && /^#[0-9a-fA-F]{3,6}$/.test(value)) {
      root.style.setProperty(`--brand-${name}`, value);
    }
  }
  if (config.font_family) root.style.setProperty("--brand-font", config.font_family);
  root.lang = setLanguage(config.language);
  if (config.title) document.title = config.title;
  applyTheme(config.theme, root);
  usePhotos(config.photos);
  useLogo(config.logo_url);
}

const THEMES = ["dark", "light", "high-contrast"];

// A built-in theme (style.css) replaces the colours; "dark" keeps the branding's.
export function applyTheme(name, root = document.documentElement) {
  if (!THEMES.includes(name)) return;
  if (name === "dark") delete root.dataset.theme;
  else root.dataset.theme = name;
}

// The logo, or nothing: a logo that fails to load is removed rather than shown broken.
export function logoImage(config, className = "logo") {
  const url = config.logo_url;
  const src = typeof url === "string" && url.startsWith("/") && !url.startsWith("//")
    ? url : safeUrl(url);
  if (!src) return null;
  const img = document.createElement("img");
  img.className = className;
  img.alt = "";
  img.addEventListener("error", () => img.remove(), { once: true });
  img.src = src;
  return img;
}

export function hashtagsText(config) {
  return (config.hashtags || []).join("  ");
}
