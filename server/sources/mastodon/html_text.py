"""Turn the HTML of a Mastodon status into plain text and entity spans (pure, no I/O).

Mastodon sends `content` as a small HTML subset: `<p>`, `<br>`, `<a>` with
`class="mention"` or `class="hashtag"`, `<span class="invisible">` around the parts of a
URL that are not shown, `<span class="ellipsis">` where a long URL is cut, and
`<p class="quote-inline">` as the fallback text of a quote. The stdlib HTML parser reads
it; character references are decoded by the parser, never by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from moderation.post import Entity

ELLIPSIS = "…"
_BLOCKS = frozenset({"p", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5"})
# Elements whose content is never text (and that never close in fragments like these).
_SKIPPED = frozenset({"script", "style", "template"})


@dataclass(slots=True)
class _Link:
    start: int
    part: int  # index in the parts list where the link's text begins
    href: str | None
    classes: frozenset[str]


class _TextBuilder(HTMLParser):
    """Collect the visible text and the links of an HTML fragment."""

    def __init__(self, drop_quote_inline: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[Entity] = []
        self.drop_quote_inline = drop_quote_inline
        self._hidden_depth = 0  # >0 inside an invisible span or a dropped quote fallback
        self._stack: list[tuple[str, bool, bool]] = []  # (tag, hides, ellipsis)
        self._link: _Link | None = None
        self._pending_break = ""

    # -- text ---------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        if not text or self._hidden_depth:
            return
        if self._pending_break and self.length:
            self.parts.append(self._pending_break)
            self.length += len(self._pending_break)
        self._pending_break = ""
        self.parts.append(text)
        self.length += len(text)

    def _block_break(self, separator: str) -> None:
        if self.length and not self._hidden_depth:
            # The longest separator asked for wins: a paragraph after a line break is a
            # paragraph.
            if len(separator) > len(self._pending_break):
                self._pending_break = separator

    # -- parser callbacks ---------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = frozenset((attributes.get("class") or "").split())
        if tag == "br":
            if not self._hidden_depth:
                if self._pending_break:
                    self._pending_break += "\n"
                else:
                    self.parts.append("\n")
                    self.length += 1
            return
        if tag in ("img", "hr", "wbr", "input", "meta", "link"):
            return  # void elements never close
        hides = (
            tag in _SKIPPED
            or "invisible" in classes
            or (self.drop_quote_inline and "quote-inline" in classes)
        )
        if tag in _BLOCKS:
            self._block_break("\n" if tag == "li" else "\n\n")
        self._stack.append((tag, hides, "ellipsis" in classes))
        if hides:
            self._hidden_depth += 1
        if tag == "a" and self._link is None and not self._hidden_depth:
            self._flush_break_for_link()
            self._link = _Link(self.length, len(self.parts), attributes.get("href"), classes)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "br":
            return
        # Close up to the matching open tag; a stray end tag closes nothing.
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                break
        else:
            return
        while len(self._stack) > index:
            name, hides, ellipsis = self._stack.pop()
            if ellipsis and not self._hidden_depth:
                self._emit(ELLIPSIS)
            if hides:
                self._hidden_depth -= 1
            if name == "a":
                self._close_link()
            if name in _BLOCKS:
                self._block_break("\n" if name == "li" else "\n\n")

    def handle_data(self, data: str) -> None:
        self._emit(data)

    # -- links --------------------------------------------------------------------------

    def _flush_break_for_link(self) -> None:
        if self._pending_break and self.length:
            self.parts.append(self._pending_break)
            self.length += len(self._pending_break)
        self._pending_break = ""

    def _close_link(self) -> None:
        link, self._link = self._link, None
        if link is None or self.length <= link.start:
            return
        text = "".join(self.parts[link.part:])
        if "hashtag" in link.classes or (text.startswith("#") and "mention" in link.classes):
            kind = "hashtag"
        elif "mention" in link.classes or (text.startswith("@") and "u-url" in link.classes):
            kind = "mention"
        else:
            kind = "url"
        if kind == "url":
            self.entities.append(Entity("url", link.start, self.length, text,
                                        url=link.href, display=text))
        else:
            self.entities.append(Entity(kind, link.start, self.length, text, url=link.href))


@dataclass(frozen=True, slots=True)
class RichText:
    """Plain text and the entity spans found in it, counted in code points."""

    text: str
    entities: tuple[Entity, ...]


def html_to_text(content: str, *, drop_quote_inline: bool = False) -> RichText:
    """The visible text of a status's HTML, paragraphs and line breaks kept, with its links
    as hashtag, mention and url entities."""
    builder = _TextBuilder(drop_quote_inline)
    builder.feed(content)
    builder.close()
    while builder._stack:  # unclosed elements: close them so their links are kept
        builder.handle_endtag(builder._stack[-1][0])
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
