"""Source kinds: what the config names, and where to fetch it from.

A source is a plain RSS/Atom URL, a Google News search, a GDELT DOC search, or a
local feed file. Google News and GDELT searches are turned into the feed URLs
those services publish, so the fetcher and the parser treat every source alike.
OPML (the usual export format of feed readers) can be imported as a list of
sources.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

GOOGLE_NEWS_SEARCH = "https://news.google.com/rss/search"
GDELT_DOC_API = "https://api.gdeltproject.org/api/v2/doc/doc"
GDELT_MAX_RECORDS = 75

# GDELT's `sourcelang:` operator takes language names; config files use ISO 639-1 codes.
GDELT_LANGUAGES = {
    "ar": "arabic",
    "be": "belarusian",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fa": "persian",
    "fr": "french",
    "hi": "hindi",
    "hy": "armenian",
    "it": "italian",
    "ja": "japanese",
    "kk": "kazakh",
    "ko": "korean",
    "ky": "kyrgyz",
    "pl": "polish",
    "pt": "portuguese",
    "ru": "russian",
    "tg": "tajik",
    "tr": "turkish",
    "uk": "ukrainian",
    "zh": "chinese",
}

_LANGUAGE = re.compile(r"^[a-z]{2}$")
_REGION = re.compile(r"^[A-Z]{2}$")
_KINDS = ("url", "google_news", "gdelt", "path")


@dataclass(frozen=True)
class SourceSpec:
    """One source as the config file states it: exactly one of url/google_news/gdelt/path.

    `language` and `region` choose the Google News edition (hl/gl/ceid) and the
    GDELT source language. GDELT ignores `region`: its `sourcecountry:` operator
    filters outlets by their home country, which a watcher of foreign news rarely
    wants; write it into the query when you do.
    """

    name: str
    url: str | None = None
    google_news: str | None = None
    gdelt: str | None = None
    path: str | None = None
    language: str = "en"
    region: str = "US"
    interval: timedelta | None = None


def source_location(spec: SourceSpec) -> str:
    """The http(s) URL or local file path to fetch for `spec`.

    Raises ValueError naming the source when the spec is not usable.
    """
    label = f"source {spec.name!r}"
    if not spec.name or not spec.name.strip():
        raise ValueError("a source needs a non-empty name")
    given = [kind for kind in _KINDS if getattr(spec, kind) is not None]
    if len(given) != 1:
        listed = ", ".join(given) if given else "none"
        raise ValueError(
            f"{label}: give exactly one of url, google_news, gdelt, path (got {listed})"
        )
    kind = given[0]
    value: str = getattr(spec, kind)
    if not value.strip():
        raise ValueError(f"{label}: {kind} is empty")
    if kind == "url":
        return check_feed_url(value, label)
    if kind == "path":
        return value
    if not _LANGUAGE.match(spec.language):
        raise ValueError(
            f"{label}: language must be a two-letter code such as 'en', got {spec.language!r}"
        )
    if kind == "google_news":
        if not _REGION.match(spec.region):
            raise ValueError(
                f"{label}: region must be a two-letter country code such as 'US', "
                f"got {spec.region!r}"
            )
        return google_news_url(value, spec.language, spec.region)
    return gdelt_url(value, spec.language, label)


def check_feed_url(url: str, label: str = "feed") -> str:
    """Return `url` stripped, or raise ValueError if it is not an absolute http(s) URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{label}: {url!r} is not an http(s) URL")
    return url


def google_news_url(query: str, language: str = "en", region: str = "US") -> str:
    """The Google News RSS search feed for `query` in one language edition."""
    # Google's own editions use en-GB, en-IN, ... for English and the bare code otherwise.
    hl = f"{language}-{region}" if language == "en" else language
    params = {"q": query.strip(), "hl": hl, "gl": region, "ceid": f"{region}:{language}"}
    return f"{GOOGLE_NEWS_SEARCH}?{urlencode(params)}"


def gdelt_url(query: str, language: str = "en", label: str = "gdelt source") -> str:
    """The GDELT DOC 2.0 article-list RSS feed for `query`, newest first."""
    name = GDELT_LANGUAGES.get(language)
    if name is None:
        known = ", ".join(sorted(GDELT_LANGUAGES))
        raise ValueError(f"{label}: GDELT language {language!r} is not one of {known}")
    params = {
        "query": f"{query.strip()} sourcelang:{name}",
        "mode": "ArtList",
        "format": "RSS",
        "sort": "DateDesc",
        "maxrecords": str(GDELT_MAX_RECORDS),
    }
    return f"{GDELT_DOC_API}?{urlencode(params)}"


def read_opml(data: bytes) -> list[SourceSpec]:
    """The feeds listed in an OPML document (nested folders included), in document order.

    Outlines without an xmlUrl are folders and are skipped; a feed listed twice
    is kept once; names are the outline's title (or text, or URL), made unique.
    Raises ValueError with a clear message when the document is not usable.
    """
    if b"<!ENTITY" in data:
        raise ValueError("OPML: entity declarations are not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ValueError(f"OPML: not well-formed XML ({exc})") from None
    if _local(root.tag) != "opml":
        raise ValueError(f"OPML: root element is <{_local(root.tag)}>, expected <opml>")
    body = next((child for child in root if _local(child.tag) == "body"), None)
    if body is None:
        raise ValueError("OPML: no <body> element")
    specs: list[SourceSpec] = []
    seen_urls: set[str] = set()
    seen_names: set[str] = set()
    for outline in body.iter():
        if _local(outline.tag) != "outline":
            continue
        attrs = {key.lower(): value for key, value in outline.attrib.items()}
        raw_url = attrs.get("xmlurl", "").strip()
        if not raw_url:
            continue
        label = attrs.get("title") or attrs.get("text") or raw_url
        url = check_feed_url(raw_url, f"OPML outline {label.strip()!r}")
        if url in seen_urls:
            continue
        seen_urls.add(url)
        specs.append(SourceSpec(name=_unique(label.strip() or url, seen_names), url=url))
    if not specs:
        raise ValueError("OPML: no outline has an xmlUrl, so there are no feeds to import")
    return specs


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _unique(name: str, seen: set[str]) -> str:
    candidate, n = name, 1
    while candidate in seen:
        n += 1
        candidate = f"{name} ({n})"
    seen.add(candidate)
    return candidate
