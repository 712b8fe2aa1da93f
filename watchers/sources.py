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
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlencode, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from allywatch.language.durations import format_duration, parse_duration

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

# Longer would be a typo, and a next-poll time centuries ahead overflows a datetime.
MAX_POLL_INTERVAL = timedelta(days=365)

_LANGUAGE = re.compile(r"^[a-z]{2}$")
_REGION = re.compile(r"^[A-Z]{2}$")
_KINDS = ("url", "google_news", "gdelt", "path")

Tier = Literal["official", "wire", "major", "other"]
"""How much a source's outlet counts toward a state's `min_sources` (see the config's
`tier_weights`): an official channel, a wire service, a major outlet, anything else."""
TIERS: tuple[Tier, ...] = ("official", "wire", "major", "other")


def _poll_interval(interval: timedelta) -> timedelta:
    if not timedelta(0) < interval <= MAX_POLL_INTERVAL:
        raise ValueError(
            f"must be more than 0s and at most {format_duration(MAX_POLL_INTERVAL)},"
            f" got {format_duration(interval)}"
        )
    return interval


PollInterval = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_poll_interval)]
"""How often a source is polled, written as a duration ("30m", "2h")."""


class SourceSpec(BaseModel):
    """One source as the config file states it: exactly one of url/google_news/gdelt/path.

    Validated when it is made (that is, when the config file loads), so that a
    source that loaded always has a `location`.

    `language` and `region` choose the Google News edition (hl/gl/ceid) and the
    GDELT source language. GDELT ignores `region`: its `sourcecountry:` operator
    filters outlets by their home country, which a watcher of foreign news rarely
    wants; write it into the query when you do.

    `tier` says what kind of outlet the source is (see Tier). `aggregator: true` says
    the feed gathers other outlets' items (a news aggregator, a search feed): each
    item is credited to the outlet its `<source>` element names, else to the
    registrable domain of its link, as Google News and GDELT feeds are always.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    url: str | None = None
    google_news: str | None = None
    gdelt: str | None = None
    path: str | None = None
    language: str = "en"
    region: str = "US"
    interval: PollInterval | None = None
    tier: Tier = "other"
    aggregator: bool = False

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("a source needs a non-empty name")
        return name

    @field_validator(*_KINDS)
    @classmethod
    def _not_blank(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(f"{info.field_name} is empty")
        return value

    @field_validator("url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        return None if url is None else http_url(url, "url")

    @field_validator("language")
    @classmethod
    def _language(cls, language: str, info: ValidationInfo) -> str:
        if not _LANGUAGE.match(language):
            raise ValueError(f"language must be a two-letter code such as 'en', got {language!r}")
        if info.data.get("gdelt") is not None and language not in GDELT_LANGUAGES:
            known = ", ".join(sorted(GDELT_LANGUAGES))
            raise ValueError(f"GDELT language {language!r} is not one of {known}")
        return language

    @field_validator("region")
    @classmethod
    def _region(cls, region: str) -> str:
        if not _REGION.match(region):
            raise ValueError(
                f"region must be a two-letter country code such as 'US', got {region!r}"
            )
        return region

    @model_validator(mode="after")
    def _one_location(self) -> SourceSpec:
        given = [kind for kind in _KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(
                "a source needs exactly one of url, google_news, gdelt, path"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @property
    def location(self) -> str:
        """The http(s) URL or local file path to fetch."""
        if self.url is not None:
            return self.url
        if self.google_news is not None:
            return google_news_url(self.google_news, self.language, self.region)
        if self.gdelt is not None:
            return gdelt_url(self.gdelt, self.language)
        assert self.path is not None  # one of the four, checked when made
        return self.path


def http_url(url: str, what: str) -> str:
    """Return `url` stripped, or raise ValueError if it is not an absolute http(s) URL."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # a malformed host, such as an unclosed IPv6 bracket
        usable = False
    if not usable:
        raise ValueError(f"{what} must start with http:// or https:// and name a host, got {url!r}")
    return url


def google_news_url(query: str, language: str = "en", region: str = "US") -> str:
    """The Google News RSS search feed for `query` in one language edition."""
    # Google's own editions use en-GB, en-IN, ... for English and the bare code otherwise.
    hl = f"{language}-{region}" if language == "en" else language
    params = {"q": query.strip(), "hl": hl, "gl": region, "ceid": f"{region}:{language}"}
    return f"{GOOGLE_NEWS_SEARCH}?{urlencode(params)}"


def gdelt_url(query: str, language: str = "en") -> str:
    """The GDELT DOC 2.0 article-list RSS feed for `query`, newest first; `language` is
    one of GDELT_LANGUAGES."""
    params = {
        "query": f"{query.strip()} sourcelang:{GDELT_LANGUAGES[language]}",
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
        try:
            url = http_url(raw_url, "xmlUrl")
        except ValueError as exc:
            raise ValueError(f"OPML outline {label.strip()!r}: {exc}") from None
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
