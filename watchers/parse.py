"""Feed bytes -> normalised articles.

Plain, well-formed UTF-8 RSS 2.0, most of what news sites serve, is read with
lxml by fast_parse.py, which gives exactly the entries feedparser would and
declines anything else. feedparser does the rest and the forgiving XML work
(encodings, entities, broken markup, Atom and RDF). This module turns the entries into
`Article`s a matcher can rely on: plain text, canonical links, a UTC time that
is never missing and never in the future, and an id that stays the same every
time the feed is read.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from allywatch.language.records import Article
from allywatch.watchers.fast_parse import read_plain_rss
from allywatch.watchers.links import (
    AGGREGATOR_HOSTS,
    GOOGLE_NEWS_HOSTS,
    canonical_link_and_outlet,
    outlet_of,
    registrable_domain,
)
from allywatch.watchers.text import html_to_text

# Bounds on what one entry may contribute; feeds are untrusted and some carry whole articles.
MAX_RAW_CHARS = 200_000
MAX_TITLE_CHARS = 1_000
MAX_SUMMARY_CHARS = 10_000
MAX_UID_CHARS = 512
SOURCE_SEPARATOR = "|"  # between a GUID uid's source name and the GUID
_DATE_FIELDS = ("published_parsed", "updated_parsed", "created_parsed")
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
# Entries are read with plain dict access: FeedParserDict.get runs key aliasing in
# Python for every call (and would alias updated to published, with a warning).
_get = dict.get


class FeedParseError(ValueError):
    """The feed yielded nothing usable; the message says why."""


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    source_name: str,
    location: str,
    now: datetime,
    *,
    aggregator: bool = False,
) -> list[Article]:
    """The articles of one feed document, in feed order, without repeats.

    `headers` are the HTTP response headers (any key case); `location` is the URL
    or path the feed was read from, used as the base for relative links when the
    headers give no Content-Location. `now` (first-seen time) stands in for
    missing publication dates and caps dates in the future.

    An item's outlet is the source's own, unless the feed is an aggregator's (the
    source says `aggregator`, or its host is Google News' or GDELT's): see _Outlet.

    Whatever feedparser can recover from an ill-formed feed is kept. Raises
    FeedParseError when nothing usable is left; a well-formed feed with no
    entries gives an empty list.
    """
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    if not body.strip():
        raise FeedParseError(f"{source_name}: the feed is empty")
    response_headers = {key.lower(): value for key, value in headers.items()}
    # Relative links resolve against the feed's own http(s) URL; a local file's
    # location is no base for web links (the feed's <link> is used instead).
    if not _is_http(response_headers.get("content-location", "")):
        response_headers.pop("content-location", None)
        if _is_http(location):
            response_headers["content-location"] = location
    # Without a Content-Type feedparser falls back to ISO-8859-1; a feed is XML, whose
    # own rules (BOM, encoding declaration, else UTF-8) are the right default.
    response_headers.setdefault("content-type", "application/xml")
    plain = read_plain_rss(body, response_headers)
    if plain is not None:
        entries, feed_link, parser_note = plain.entries, plain.link, ""
    else:
        entries, feed_link, parser_note = _read_with_feedparser(body, response_headers, source_name)
    if not entries:
        return []
    base = _fallback_base(feed_link, response_headers, location)
    feed_host = outlet_of(base)
    aggregates = aggregator or outlet_of(location) in AGGREGATOR_HOSTS
    outlet = _Outlet(registrable_domain(location) or source_name, aggregates)
    articles: list[Article] = []
    seen: set[str] = set()
    for entry in entries:
        article = _article(entry, source_name, base, feed_host, outlet, now)
        if article is not None and article.uid not in seen:
            seen.add(article.uid)
            articles.append(article)
    if not articles:
        raise FeedParseError(
            f"{source_name}: {len(entries)} entries, none with a title or summary" + parser_note
        )
    return articles


def _read_with_feedparser(
    body: bytes, headers: dict[str, str], source_name: str
) -> tuple[list[Any], str, str]:
    """(entries, the feed's link, what the parser said of the document) by feedparser,
    which reads what read_plain_rss declines: other charsets, Atom, RDF, broken XML.
    Raises FeedParseError where an entry-less result is not a well-formed empty feed."""
    # Bytes go in as a stream: feedparser would treat a bytes value that happens to
    # spell a path or URL as something to open. The text is reduced to plain text
    # later, which makes feedparser's HTML sanitising and URI rewriting redundant.
    try:
        parsed = feedparser.parse(
            io.BytesIO(_defuse_charrefs(body)),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feed bytes are untrusted: a parser crash fails this feed only
        raise FeedParseError(
            f"{source_name}: the feed parser failed on it ({type(exc).__name__}: {exc})"
        ) from exc
    entries = parsed.get("entries") or []
    if not entries:
        _check_empty_feed(parsed, body, source_name)
    return entries, parsed.feed.get("link", ""), _bozo_note(parsed)


def _defuse_charrefs(body: bytes) -> bytes:
    """The document with numeric character references that name no character (NUL, a
    surrogate, past U+10FFFF) turned into U+FFFD's: feedparser's lenient parser
    raises on them, which would cost the whole feed for one reference."""
    return _CHARREF.sub(_charref_or_replacement, body) if b"&#" in body else body


def _charref_or_replacement(found: re.Match[bytes]) -> bytes:
    digits, base = (found[1], 16) if found[1] is not None else (found[2], 10)
    value = int(digits, base) if len(digits) <= 8 else 0
    valid = 0 < value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF
    return found[0] if valid else b"&#xFFFD;"


def _check_empty_feed(parsed: Any, body: bytes, source_name: str) -> None:
    """Raise unless an entry-less result is a genuine, well-formed empty feed."""
    if parsed.get("version") and not _really_bozo(parsed):
        return
    start = body.lstrip()[:60].decode("utf-8", "replace")
    start = " ".join(start.split())
    if not parsed.get("version"):
        raise FeedParseError(
            f"{source_name}: not an RSS or Atom feed (it starts {start!r})" + _bozo_note(parsed)
        )
    raise FeedParseError(f"{source_name}: ill-formed feed with no entries" + _bozo_note(parsed))


def _really_bozo(parsed: Any) -> bool:
    """Ill-formed, as opposed to feedparser's notes about charset or media type."""
    exc = parsed.get("bozo_exception")
    return bool(parsed.get("bozo")) and not isinstance(exc, feedparser.ThingsNobodyCaresAboutButMe)


def _bozo_note(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    return f"; parser said: {exc}" if parsed.get("bozo") and exc else ""


def _fallback_base(feed_link: str, headers: Mapping[str, str], location: str) -> str:
    """A base for links still relative after parsing (a local file has no URL of its own)."""
    for candidate in (headers.get("content-location", ""), feed_link, location):
        if _is_http(candidate):
            return candidate
    return ""


@dataclass(frozen=True)
class _Outlet:
    """Who publishes a feed's items: the source's own outlet (the registrable domain of
    its feed URL, else the source's name), unless the feed is an aggregator's."""

    own: str
    aggregator: bool

    def of(self, link: str, source: Mapping[str, Any]) -> str:
        """The outlet of an item with this `link` and `<source>` element. Only an
        aggregator's item is credited to the outlet it links to (or, where the link is
        the aggregator's own, the one its `<source>` names): any other
        feed's items are the feed's own, wherever they link (a feed linking to four
        hosts is still one outlet)."""
        if not self.aggregator:
            return self.own
        linked = registrable_domain(link) if outlet_of(link) not in GOOGLE_NEWS_HOSTS else ""
        return linked or registrable_domain(source.get("href", "") or "") or self.own


def _article(
    entry: Any, source_name: str, base: str, feed_host: str, outlets: _Outlet, now: datetime
) -> Article | None:
    title = _clean(_get(entry, "title"), MAX_TITLE_CHARS)
    summary = _clean(_summary_html(entry), MAX_SUMMARY_CHARS)
    if not title and not summary:
        return None
    link, _ = canonical_link_and_outlet(_link(entry, base))
    source = _get(entry, "source") or {}
    outlet = outlets.of(link, source)
    source_title = (source.get("title") or "").strip()
    if source_title and title.endswith(f" - {source_title}"):
        title = title[: -len(source_title) - 3].rstrip()
    published, estimated = _published(entry, now)
    return Article(
        uid=_uid(_get(entry, "id"), link, title, feed_host or source_name, source_name),
        link=link,
        title=title,
        summary=summary,
        published=published,
        source=source_name,
        outlet=outlet,
        published_estimated=estimated,
    )


def _clean(value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value:
        return ""
    # NUL is no character of any text (and PostgreSQL's text columns refuse it).
    text = html_to_text(value[:MAX_RAW_CHARS].replace("\x00", ""))
    return text[:limit].rstrip() if len(text) > limit else text


def _summary_html(entry: Any) -> str:
    summary = _get(entry, "summary")
    if isinstance(summary, str) and summary.strip():
        return summary
    for content in _get(entry, "content") or []:
        value = content.get("value")
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _link(entry: Any, base: str) -> str:
    link = _get(entry, "link") or ""
    if not link:
        guid = _get(entry, "id") or ""
        if _is_http(guid):
            link = guid
    if link and base and not _is_http(link):
        link = urljoin(base, link)
    return link


def _published(entry: Any, now: datetime) -> tuple[datetime, bool]:
    """(UTC publication time, whether it is estimated): missing -> now, future -> now."""
    for name in _DATE_FIELDS:
        parsed = _get(entry, name)
        if parsed is None:
            continue
        try:
            when = datetime(*parsed[:6]).replace(tzinfo=UTC)
        except (TypeError, ValueError, OverflowError):
            continue
        if when > now:
            return now, True
        return when, False
    return now, True


def _uid(guid: Any, link: str, title: str, scope: str, source_name: str) -> str:
    """The feed's GUID when it has one, else a hash of canonical link and title.

    GUIDs that are not URLs or URNs (bare numbers, opaque tokens) are unique only
    within their publisher, so they are prefixed with the feed's host. A GUID
    identifies an item within its source only (two outlets may share a GUID
    scheme), so it is prefixed with the source's name and SOURCE_SEPARATOR too;
    what follows the separator is the uid stored before GUIDs were per source
    (see `legacy_uid`).
    """
    if isinstance(guid, str) and guid.strip():
        guid = guid.strip()
        legacy = guid if ":" in guid else f"{scope}#{guid}"
        uid = f"{source_name}{SOURCE_SEPARATOR}{legacy}"
        if len(uid) <= MAX_UID_CHARS:
            return uid
        return "sha256:" + hashlib.sha256(uid.encode("utf-8", "replace")).hexdigest()
    digest = hashlib.sha256(f"{link}\n{title}".encode("utf-8", "replace")).hexdigest()
    return f"sha256:{digest}"


def _is_http(value: str) -> bool:
    """An absolute http(s) URL (a prefix test: this runs for every entry)."""
    head = value[:8].lower()
    return (head.startswith("http://") and len(value) > 7) or (
        head == "https://" and len(value) > 8
    )


def legacy_uid(uid: str, source_name: str) -> str | None:
    """The uid an article of `source_name` was stored under before GUIDs were per
    source, or None where the uid is not a per-source GUID."""
    prefix = f"{source_name}{SOURCE_SEPARATOR}"
    return uid[len(prefix) :] if uid.startswith(prefix) else None
