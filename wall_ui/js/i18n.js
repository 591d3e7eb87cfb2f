// Every text of the wall and the phone view, in the event's language (HASHWALL_LANGUAGE).
const TEXTS = {
  fr: {
    justNow: "à l'instant",
    join: "Suivez le mur sur votre téléphone",
    invite: "Publiez avec {tags} : vos messages apparaîtront ici.",
    waiting: "Les publications arrivent…",
    featured: "À la une",
    announcement: "Annonce",
    posts: "Publications",
    older: "Publications plus anciennes",
    loading: "Chargement…",
    noOlder: "Vous avez tout vu.",
    olderFailed: "Impossible de charger la suite. Touchez pour réessayer.",
    offline: "Hors ligne — reconnexion…",
    paused: "Mur en pause",
    newPosts: { one: "{n} nouvelle publication", other: "{n} nouvelles publications" },
    shares: { one: "{n} republication", other: "{n} republications" },
    onsite: "posté dans la salle",
    network: "publié sur {name}",
  },
  en: {
    justNow: "just now",
    join: "Follow the wall on your phone",
    invite: "Post with {tags}: your messages will appear here.",
    waiting: "Posts are on their way…",
    featured: "Featured",
    announcement: "Announcement",
    posts: "Posts",
    older: "Older posts",
    loading: "Loading…",
    noOlder: "You have seen everything.",
    olderFailed: "Could not load more. Tap to try again.",
    offline: "Offline — reconnecting…",
    paused: "Wall paused",
    newPosts: { one: "{n} new post", other: "{n} new posts" },
    shares: { one: "{n} repost", other: "{n} reposts" },
    onsite: "posted in the room",
    network: "posted on {name}",
  },
};

function pick(lang) {
  const base = String(lang || "").toLowerCase().split("-")[0];
  return Object.hasOwn(TEXTS, base) ? base : "en";
}

let language = pick(document.documentElement.lang);

export function setLanguage(lang) {
  language = pick(lang);
  return language;
}

export function currentLanguage() {
  return language;
}

// The text of `key`, with `{name}` placeholders filled from `values` and plurals by `n`.
export function t(key, values = {}) {
  let text = TEXTS[language][key] ?? TEXTS.en[key] ?? key;
  if (typeof text === "object") {
    const form = new Intl.PluralRules(language).select(values.n ?? 0);
    text = text[form] ?? text.other;
  }
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}
