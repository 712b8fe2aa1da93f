"""Plain RSS 2.0 read with lxml, giving exactly the entries feedparser would.

feedparser is pure Python and was most of a cycle's parsing CPU; lxml (libxml2)
reads the same document many times faster (bench/bench_parser_choice.py). But
feedparser's way of reading a feed is also what decides an article's text,
link, date and, above all, its uid: a difference there would store every
article of a feed a second time. So this reader takes only documents whose
entries it can give exactly as feedparser does, and declines the rest, which
parse.py then hands to feedparser:

- the bytes are UTF-8 (or ASCII) by every declaration feedparser weighs: the
  HTTP charset, the media type's default, the XML declaration and the BOM;
- the document is well-formed XML with no DTD and no xml:base (strict libxml2
  parse, entities never resolved, no network);
- the root is RSS 2.0's `<rss>`, and every `<item>` is a child of its channel;
- an item holds only elements without children (no inline markup, comments or
  media groups), none with attributes where feedparser would read them, and no
  element feedparser maps onto a field parse.py reads, other than the one
  element per field read here.

Where it reads, it repeats feedparser's treatment of each value: whitespace
stripped, guid and link resolved against the feed's URL, UTF-8 that was
re-encoded as Latin-1 repaired, Windows-1252 code points mapped, a link's
`&amp;` and `&name;` undone, and dates read by feedparser's own date parser.
tests/test_parse_fast.py parses feeds both ways and compares the articles.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from feedparser.datetimes import _parse_date as feedparser_date
from feedparser.html import _cp1252 as CP1252_CODE_POINTS
from feedparser.urls import _urljoin as feedparser_urljoin
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no types

_CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC = "{http://purl.org/dc/elements/1.1/}"
_ATOM = "{http://www.w3.org/2005/Atom}"
_ATOM_LINK = _ATOM + "link"
# Every tag feedparser starts an entry at, wherever it is in the document.
_ENTRY_TAGS = (
    "item",
    "entry",
    _ATOM + "entry",
    "{http://purl.org/rss/1.0/}item",
    "{http://backend.userland.com/rss}item",
    "{http://backend.userland.com/rss2}item",
)
# An item's elements read here, each at most once, and the entry key each fills.
_FIELDS = {
    "title": "title",
    "link": "link",
    "description": "summary",
    "guid": "id",
    "pubDate": "published",
    "source": "source",
    _CONTENT_ENCODED: "content",
    _DC + "date": "updated",
}
# Item elements feedparser keeps in fields parse.py never reads.
_IGNORED = frozenset(
    {
        "author",
        "category",
        "comments",
        "enclosure",
        _DC + "creator",
        _DC + "subject",
        "{http://purl.org/rss/1.0/modules/slash/}comments",
        "{http://wellformedweb.org/CommentAPI/}commentRss",
        "{com-wordpress:feed-additions:1}post-id",
        "{http://search.yahoo.com/mrss/}content",
        "{http://search.yahoo.com/mrss/}thumbnail",
    }
)
_UTF8_NAMES = frozenset({"utf-8", "utf8"})
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*['"]([A-Za-z0-9._:-]*)['"]""")
_C1_CONTROL = re.compile("[\x80-\x9f]")  # what feedparser maps to Windows-1252's characters
_NAMED_REFERENCE = re.compile("&([A-Za-z0-9_]+);")
# An absolute http(s) URL of printable ASCII with a host: see _joined.
_PLAIN_URL = re.compile("https?://(?![/?#])[!-~]+")
_UTF8_BOM = b"\xef\xbb\xbf"
_HEAD = 1024  # bytes in which an RSS document's root element starts
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
)


@dataclass(frozen=True)
class RssDocument:
    """What parse.py reads of a feed: the channel's link and the entries, each a dict
    with feedparser's keys (title, summary, content, link, id, source, *_parsed)."""

    link: str
    entries: list[dict[str, Any]]


def read_plain_rss(body: bytes, headers: Mapping[str, str]) -> RssDocument | None:
    """The document's entries as feedparser would give them, or None where this reader
    cannot promise that (see the module's docstring): then use feedparser.

    `headers` are lower-cased HTTP response headers with a content-type; a
    content-location, if any, is the base for relative links and guids.
    """
    if not _utf8_by_every_declaration(body, headers.get("content-type", "")):
        return None
    # A DTD may declare entities, which feedparser and libxml2 treat differently;
    # xml:base moves the base feedparser resolves links against.
    if b"<!DOCTYPE" in body or b"xml:base" in body or b"<rss" not in body[:_HEAD]:
        return None
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return None
    channel = root.find("channel") if root.tag == "rss" else None
    if channel is None:
        return None
    items = channel.findall("item")
    if sum(1 for _ in root.iter(*_ENTRY_TAGS)) != len(items):  # feedparser would read more
        return None
    base = headers.get("content-location", "")
    entries = [_entry(item, base) for item in items]
    if any(entry is None for entry in entries):
        return None
    link = _channel_link(channel, base)
    if link is None:
        return None
    return RssDocument(link, [entry for entry in entries if entry is not None])


def _utf8_by_every_declaration(body: bytes, content_type: str) -> bool:
    """Whether feedparser would decode `body` as UTF-8 (or as ASCII, for an ASCII body)
    and libxml2 would too: feedparser's RFC 3023 rules, without its guessing."""
    if body.startswith(_UTF8_BOM):
        body = body[len(_UTF8_BOM) :]
    elif body[:2] in (b"\xff\xfe", b"\xfe\xff") or body[:4] == b"\x00\x00\xfe\xff":
        return False
    declared = _XML_ENCODING.match(body)
    xml_encoding = declared[1].decode("ascii").lower() if declared else ""
    if xml_encoding and xml_encoding not in _UTF8_NAMES:
        return False
    media_type, _, parameters = content_type.partition(";")
    media_type = media_type.strip()
    charset = ""
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower()
    if media_type.startswith("application/") and (
        media_type.endswith("+xml") or media_type == "application/xml"
    ):
        return not charset or charset in _UTF8_NAMES
    if media_type.startswith("text/") and media_type.endswith("xml"):
        # RFC 3023: text/xml without a charset is US-ASCII, whatever the document says.
        return charset in _UTF8_NAMES or (not charset and body.isascii())
    return False


def _entry(item: Any, base: str) -> dict[str, Any] | None:
    """An item as feedparser's entry, or None if it holds anything not read here."""
    if item.attrib:
        return None
    found: dict[str, Any] = {}
    for element in item:
        tag = element.tag
        if not isinstance(tag, str):  # a comment or processing instruction between elements
            continue
        if len(element):
            return None
        if tag in _IGNORED:
            continue
        key = _FIELDS.get(tag)
        if key is None or key in found:
            return None
        found[key] = element
    entry: dict[str, Any] = {}
    for key, element in found.items():
        if not _read_field(entry, key, element, base):
            return None
    if "id" in entry and entry.pop("guidislink") and "link" not in found:
        entry["link"] = entry["id"]
    return entry


def _read_field(entry: dict[str, Any], key: str, element: Any, base: str) -> bool:
    """Put `element`'s value under `key` as feedparser would; False for an attribute
    feedparser would act on (a content type, base64 mode, ...)."""
    attributes = dict(element.attrib)
    if key == "id":
        permalink = [v for k, v in attributes.items() if k.lower() == "ispermalink"]
        if len(permalink) != len(attributes):
            return False
        entry["guidislink"] = (permalink or ["true"])[0] == "true"
        entry["id"] = _value(element, base if entry["guidislink"] else None)
        return True
    if key == "source":
        if set(attributes) - {"url"}:
            return False
        source = {"href": attributes["url"]} if "url" in attributes else {}
        title = _value(element)
        if title:
            source["title"] = title
        entry["source"] = source
        return True
    if attributes:
        return False
    if key == "link":
        link = _value(element, base)
        if "&" in link:
            link = _NAMED_REFERENCE.sub(r"&\g<1>", link.replace("&amp;", "&"))
        entry["link"] = link
    elif key == "content":
        entry["content"] = [{"value": _value(element)}]
        entry.setdefault("summary", entry["content"][0]["value"])
    elif key == "summary":
        entry["summary"] = _value(element)
    elif key in ("published", "updated"):
        entry[f"{key}_parsed"] = feedparser_date(_value(element))
    else:
        entry[key] = _value(element)
    return True


def _value(element: Any, base: str | None = None) -> str:
    """An element's text as feedparser's pop() leaves it (its strict parser, no sanitising)."""
    text = (element.text or "").strip()
    if base is not None and text:
        text = _joined(base, text)
    if text.isascii():  # most text: neither step below can change it
        return text
    with suppress(UnicodeEncodeError, UnicodeDecodeError):  # UTF-8 once taken for Latin-1
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(CP1252_CODE_POINTS) if _C1_CONTROL.search(text) else text


def _joined(base: str, url: str) -> str:
    """feedparser's `_urljoin(base, url)`, which gives a plain absolute URL back as it is
    after taking it apart and putting it together again: such a URL is returned without
    that work (most links and guids; about a seventh of parse_feed's CPU on plain RSS).

    Plain: http or https with a host, printable ASCII, and nothing the round trip through
    urllib.parse would drop or rewrite (a `;` of path parameters, an empty query or
    fragment, brackets of an IPv6 host). Anything else goes through feedparser.
    """
    if (
        _PLAIN_URL.fullmatch(url) is None
        or "[" in url
        or "]" in url
        or ";" in url
        or "?#" in url
        or url.endswith(("?", "#"))
    ):
        joined: str = feedparser_urljoin(base, url)
        return joined
    return url


def _channel_link(channel: Any, base: str) -> str | None:
    """The channel's link as feedparser reads it (the last <link>), or None where an
    Atom link or an attribute could make feedparser read another."""
    link = ""
    for element in channel:
        if element.tag == _ATOM_LINK and element.get("rel", "alternate") == "alternate":
            return None
        if element.tag == "link":
            if element.attrib or len(element):
                return None
            link = _NAMED_REFERENCE.sub(r"&\g<1>", _value(element, base))
    return link
