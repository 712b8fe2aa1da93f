"""Turning feed HTML into plain text, and plain text into sentences.

Feed summaries arrive as anything from clean text to broken HTML fragments,
sometimes HTML escaped twice. The matcher only ever sees the plain text this
module produces, so evidence offsets refer to that text.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from allywatch.language.bounded import Pattern

_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg"})
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th",
        "tr", "ul",
    }
)  # fmt: skip
_WS = re.compile(r"\s+")
# Characters that change no word, dropped so that a term next to one still matches
# ("⚡️Су-35" carries U+FE0F, an emoji's variation selector, against "Су-35"): zero-width
# space, word joiner, byte-order mark, variation selectors, soft hyphen. (The zero-width
# joiner and non-joiner stay: they shape words in some scripts.)
_INVISIBLE = ("\u200b", "\u2060", "\ufeff", "\ufe0e", "\ufe0f", "\u00ad")
# Markup that survived one round of unescaping ("&lt;p&gt;" in the feed).
_ESCAPED_TAG = re.compile(r"&lt;/?[a-zA-Z][^&]{0,200}?&gt;")
# What follows a "<" in simple markup: an end tag "/name>", or a start tag "name>",
# "name/>" with attributes, each with a quoted value holding no "<" or ">". HTML's own
# whitespace only (\s would take more than html.parser's tag-name rule stops at).
_SPACE = "[ \t\n\r\f]"
_SIMPLE_TAG = re.compile(
    rf"""(?:/(?P<end>[a-zA-Z][a-zA-Z0-9]*){_SPACE}*"""
    rf"""|(?P<start>[a-zA-Z][a-zA-Z0-9]*)"""
    rf"""(?:{_SPACE}+[a-zA-Z_:][-a-zA-Z0-9_:.]*{_SPACE}*={_SPACE}*(?:"[^"<>]*"|'[^'<>]*'))*"""
    rf"""{_SPACE}*/?)>"""
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(_WS.sub(" ", data))  # in HTML a newline is just a space


def html_to_text(s: str) -> str:
    """Plain text of an HTML fragment: tags stripped, entities unescaped, spaces collapsed.

    Paragraphs, line breaks and other block boundaries become one newline (they
    end sentences); every other run of whitespace becomes one space. Never
    raises on malformed markup; text that is not HTML comes back with only its
    whitespace collapsed (and entities unescaped).
    """
    if not s:
        return ""
    if "&lt;" in s and _ESCAPED_TAG.search(s):
        s = html.unescape(s)
    if "<" not in s:
        text = html.unescape(s)
    elif (simple := _simple_markup_text(s)) is not None:
        text = simple
    else:
        text = _parsed_markup_text(s)
    for char in _INVISIBLE:  # str.replace per character: a tenth of str.translate's time
        if char in text:
            text = text.replace(char, "")
    text = text.replace("\u00a0", " ").replace("\r", "\n")
    # str.split() splits on exactly what \s matches (str.isspace), and drops the ends:
    # each line collapsed as _WS.sub(" ", line).strip() would, at a fraction of the cost.
    if "\n" not in text:  # one line (most titles and summaries)
        return " ".join(text.split())
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _parsed_markup_text(s: str) -> str:
    """The text of any markup, by html.parser (before lines are tidied)."""
    parser = _TextExtractor()
    try:
        parser.feed(s)
        parser.close()
        return "".join(parser.parts)
    except Exception:  # HTMLParser is lenient; this guards against pathological input
        return html.unescape(re.sub(r"<[^>]*>", " ", s))


def _simple_markup_text(s: str) -> str | None:
    """`_parsed_markup_text(s)` for simple markup, a few times faster; None for any other.

    Simple: every "<" opens a whole tag of _SIMPLE_TAG, and none is a skipped tag
    (script and style switch html.parser into raw text). On such markup html.parser
    calls a handler per tag (the lower-cased name; start, end or self-closing) and
    passes the text between tags unescaped, which is what this does.
    tests/test_text_markup.py compares the two.
    """
    first, *tagged = s.split("<")
    parts = [_WS.sub(" ", html.unescape(first))]
    for piece in tagged:
        tag = _SIMPLE_TAG.match(piece)
        if tag is None:
            return None
        name = (tag["start"] or tag["end"]).lower()
        if name in _SKIP_TAGS:
            return None
        if name in _BLOCK_TAGS:
            parts.append("\n")
        parts.append(_WS.sub(" ", html.unescape(piece[tag.end() :])))
    return "".join(parts)


# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) and
# whitespace, when the next sentence starts with a capital letter, a digit or an
# opening quote. A full stop after an initial ("U.S.", "J. Smith") or a known
# abbreviation ("Mr.", "Jan.") ends none.
_SENT_END = re.compile(r"""(?<=[.!?…])["'”’»)\]]*\s+(?=["'“‘«(\[]?(?P<next>[^\W_]))""")
_INITIAL = re.compile(r"(?<!\w)(?P<letter>[^\W\d_])\.$")


def sentence_spans(text: str, abbreviation: Pattern) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`; a newline always ends one.

    `abbreviation` finds a known abbreviation with its full stop at the end of a
    text (see watchers/cue_patterns.py).
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        start = offset
        for m in _SENT_END.finditer(line):
            if not _starts_sentence(m.group("next")):
                continue
            head = line[start - offset : m.start()].rstrip("\"'”’»)]")
            if _is_initial(head) or abbreviation.search(head):
                continue
            spans.append((start, offset + m.start()))
            start = offset + m.end()
        spans.append((start, offset + len(line)))
        offset += len(line) + 1
    return spans


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char in "0123456789"


def _is_initial(head: str) -> bool:
    found = _INITIAL.search(head)
    return found is not None and found.group("letter").isupper()
