"""Turn the HTML of a Mastodon status into plain text and entity spans (pure, no I/O).

Mastodon sends `content` as a small HTML subset: `<p>`, `<br>`, `<a>` with
`class="mention"` or `class="hashtag"`, `<span class="invisible">` around the parts of a
URL that are not shown, `<span class="ellipsis">` where a long URL is cut, and
`<p class="quote-inline">` as the fallback text of a quote. A real HTML5 parser (lexbor,
through selectolax) reads it into a tree and decodes the character references; the tree
is then walked once.
"""

from __future__ import annotations

from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from moderation.post import Entity

ELLIPSIS = "…"
_TEXT = "-text"
_BLOCKS = frozenset({"p", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5",
                     "h6", "div"})
# Elements whose content is never shown.
_SKIPPED = frozenset({"script", "style", "template", "head", "title", "-comment"})


class _TextBuilder:
    """Collect the visible text and the links of a parsed fragment."""

    def __init__(self, drop_quote_inline: bool) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[Entity] = []
        self.drop_quote_inline = drop_quote_inline
        self._pending_break = ""
        self._in_link = False

    def _emit(self, text: str) -> None:
        if not text:
            return
        if self._pending_break:
            if self.length:
                self.parts.append(self._pending_break)
                self.length += len(self._pending_break)
            self._pending_break = ""
        self.parts.append(text)
        self.length += len(text)

    def _block_break(self, separator: str) -> None:
        # The longest separator asked for wins: a paragraph after a line break is one.
        if self.length and len(separator) > len(self._pending_break):
            self._pending_break = separator

    def walk(self, node: LexborNode) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == _TEXT:
                self._emit(child.text_content or "")
                continue
            if tag == "br":
                if self._pending_break:
                    self._pending_break += "\n"
                else:
                    self.parts.append("\n")
                    self.length += 1
                continue
            if tag in _SKIPPED:
                continue
            classes = (child.attributes.get("class") or "").split()
            if "invisible" in classes or (self.drop_quote_inline and "quote-inline" in classes):
                continue
            block = tag in _BLOCKS
            if block:
                self._block_break("\n" if tag == "li" else "\n\n")
            if tag == "a" and not self._in_link:
                self._link(child, classes)
            else:
                self.walk(child)
                if "ellipsis" in classes:
                    self._emit(ELLIPSIS)
            if block:
                self._block_break("\n" if tag == "li" else "\n\n")

    def _link(self, node: LexborNode, classes: list[str]) -> None:
        if self._pending_break and self.length:
            self.parts.append(self._pending_break)
            self.length += len(self._pending_break)
        self._pending_break = ""
        start, first = self.length, len(self.parts)
        self._in_link = True
        try:
            self.walk(node)
        finally:
            self._in_link = False
        if self.length <= start:
            return
        text = "".join(self.parts[first:])
        href = node.attributes.get("href")
        if "hashtag" in classes or (text.startswith("#") and "mention" in classes):
            self.entities.append(Entity("hashtag", start, self.length, text, url=href))
        elif "mention" in classes or (text.startswith("@") and "u-url" in classes):
            self.entities.append(Entity("mention", start, self.length, text, url=href))
        else:
            self.entities.append(Entity("url", start, self.length, text, url=href,
                                        display=text))


@dataclass(frozen=True, slots=True)
class RichText:
    """Plain text and the entity spans found in it, counted in code points."""

    text: str
    entities: tuple[Entity, ...]


def html_to_text(content: str, *, drop_quote_inline: bool = False) -> RichText:
    """The visible text of a status's HTML, paragraphs and line breaks kept, with its links
    as hashtag, mention and url entities."""
    builder = _TextBuilder(drop_quote_inline)
    body = LexborHTMLParser(content).body
    if body is not None:
        builder.walk(body)
    text = "".join(builder.parts)
    trimmed = text.rstrip()
    entities = tuple(
        e for e in builder.entities if e.end <= len(trimmed) and e.text.strip()
    )
    return RichText(trimmed, entities)


def emoji_entities(text: str, emojis: dict[str, str],
                   taken: tuple[Entity, ...]) -> tuple[Entity, ...]:
    """An `emoji` entity for each `:shortcode:` of the text that names a custom emoji,
    outside the spans already taken by links."""
    if not emojis:
        return ()
    found: list[Entity] = []
    start = text.find(":")
    while start != -1:
        end = text.find(":", start + 1)
        if end == -1:
            break
        code = text[start + 1:end]
        inside = any(e.start <= start < e.end for e in taken)
        if code in emojis and not inside:
            found.append(Entity("emoji", start, end + 1, text[start:end + 1], url=emojis[code],
                                display=code))
            start = text.find(":", end + 1)
        else:
            start = end
    return tuple(found)
