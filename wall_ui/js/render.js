// Builds a post's DOM with textContent and DOM APIs only: user content is never HTML.
export function safeUrl(value) {
  try {
    const url = new URL(value, location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function link(href, text) {
  const url = safeUrl(href);
  if (!url) return el("span", "entity", text);
  const a = el("a", "entity", text);
  a.href = url;
  a.rel = "noopener noreferrer nofollow";
  a.target = "_blank";
  return a;
}

// Entity offsets count code points, so the text is split as an array of code points.
export function renderText(post) {
  const box = el("p", "text");
  box.dir = "auto";
  const chars = Array.from(post.text || "");
  const spans = (post.entities || []).slice().sort((a, b) => a.start - b.start);
  let at = 0;
  for (const span of spans) {
    if (span.start < at || span.end > chars.length) continue;
    box.append(chars.slice(at, span.start).join(""));
    const text = chars.slice(span.start, span.end).join("");
    if (span.type === "url") box.append(link(span.url || text, span.display || text));
    else box.append(el("span", `entity ${span.type}`, text));
    at = span.end;
  }
  box.append(chars.slice(at).join(""));
  return box;
}

export function renderPost(post) {
  const card = el("article", "post");
  card.dataset.id = post.id;
  const head = el("header", "author");
  const avatar = el("img", "avatar");
  avatar.alt = "";
  avatar.loading = "lazy";
  const avatarUrl = post.author && safeUrl(post.author.avatar_url || "");
  if (avatarUrl) avatar.src = avatarUrl;
  avatar.onerror = () => avatar.classList.add("missing");
  head.append(avatar);
  const who = el("span", "who");
  who.append(el("span", "name", post.author ? post.author.name : ""));
  who.append(el("span", "handle", post.author ? `@${post.author.handle}` : ""));
  head.append(who);
  card.append(head);
  card.append(renderText(post));
  if (post.referenced && post.kind === "quote") {
    const quoted = el("blockquote", "quoted");
    quoted.append(el("span", "name", post.referenced.author.name));
    quoted.append(renderText(post.referenced));
    card.append(quoted);
  }
  for (const media of post.media || []) {
    const src = safeUrl(media.preview_url || media.url || "");
    if (!src) continue;
    const img = el("img", "media");
    img.src = src;
    img.alt = media.alt_text || "";
    img.loading = "lazy";
    img.onerror = () => img.remove();
    card.append(img);
  }
  return card;
}
