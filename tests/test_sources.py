"""Source kinds -> feed locations, and OPML import."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from allywatch.watchers.sources import SourceSpec, read_opml


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_plain_urls_and_paths_are_used_as_given() -> None:
    assert SourceSpec(name="TASS", url=" https://tass.com/rss/v2.xml ").location == (
        "https://tass.com/rss/v2.xml"
    )
    assert SourceSpec(name="Sample", path="examples/feeds/sample.xml").location == (
        "examples/feeds/sample.xml"
    )


def test_google_news_query_becomes_its_search_feed() -> None:
    url = SourceSpec(name="GN", google_news='"Su-35" Iran').location
    assert url.startswith("https://news.google.com/rss/search?")
    assert query_of(url) == {"q": '"Su-35" Iran', "hl": "en-US", "gl": "US", "ceid": "US:en"}


def test_google_news_language_and_region_choose_the_edition() -> None:
    url = SourceSpec(name="GN ru", google_news="Су-35 Иран", language="ru", region="RU").location
    assert query_of(url) == {"q": "Су-35 Иран", "hl": "ru", "gl": "RU", "ceid": "RU:ru"}
    url = SourceSpec(name="GN uk", google_news="CSTO", region="GB").location
    assert query_of(url)["hl"] == "en-GB"


def test_gdelt_query_becomes_an_article_list_rss_feed() -> None:
    url = SourceSpec(name="GDELT", gdelt='"Power of Siberia 2"', language="ru").location
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "api.gdeltproject.org",
        "/api/v2/doc/doc",
    )
    params = query_of(url)
    assert params["query"] == '"Power of Siberia 2" sourcelang:russian'
    assert params["mode"].lower() == "artlist"
    assert params["format"].lower() == "rss"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "https://a.example/rss", "path": "x.xml"}, "exactly one"),
        ({}, "exactly one"),
        ({"url": "ftp://a.example/rss"}, "url must start with http:// or https://"),
        ({"url": "/rss.xml"}, "url must start with http:// or https://"),
        ({"url": "http://[::1/rss"}, "url must start with http:// or https://"),
        ({"google_news": "  "}, "google_news is empty"),
        ({"google_news": "x", "language": "english"}, "two-letter"),
        ({"url": "https://a.example/rss", "language": "english"}, "two-letter"),
        ({"google_news": "x", "region": "usa"}, "two-letter"),
        ({"gdelt": "x", "language": "tl"}, "GDELT language"),
        ({"path": "x.xml", "interval": "0s"}, "more than 0s"),
        ({"path": "x.xml", "interval": "-1h"}, "expected a duration"),
        ({"path": "x.xml", "interval": "400d"}, "at most 365d"),
        ({"path": "x.xml", "feed": "x"}, "Extra inputs"),
    ],
)
def test_unusable_specs_are_refused_when_made(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SourceSpec(name="Source", **fields)


def test_a_source_needs_a_name() -> None:
    with pytest.raises(ValueError, match="non-empty name"):
        SourceSpec(name="  ", url="https://a.example/rss")


OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="Russia">
      <outline type="rss" text="TASS" title="TASS English" xmlUrl="https://tass.com/rss/v2.xml"
               htmlUrl="https://tass.com"/>
      <outline type="rss" text="Moscow Times" xmlUrl="https://www.themoscowtimes.com/rss/news"/>
    </outline>
    <outline text="Asia">
      <outline type="rss" text="TASS" xmlurl="https://tass.com/rss/v2.xml"/>
      <outline type="rss" text="Moscow Times" xmlUrl="https://www.themoscowtimes.com/rss/other"/>
      <outline type="rss" xmlUrl="https://www.scmp.com/rss/91/feed"/>
    </outline>
  </body>
</opml>"""


def test_opml_import_lists_each_feed_once_with_a_unique_name() -> None:
    specs = read_opml(OPML)
    assert [(s.name, s.url) for s in specs] == [
        ("TASS English", "https://tass.com/rss/v2.xml"),
        ("Moscow Times", "https://www.themoscowtimes.com/rss/news"),
        ("Moscow Times (2)", "https://www.themoscowtimes.com/rss/other"),
        ("https://www.scmp.com/rss/91/feed", "https://www.scmp.com/rss/91/feed"),
    ]
    assert all(spec.location == spec.url for spec in specs)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<opml><body><outline", "not well-formed"),
        (b"<rss version='2.0'><channel/></rss>", "expected <opml>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
        (b"<opml><body><outline text='Folder'/></body></opml>", "no feeds"),
        (b"<opml><body><outline text='Bad' xmlUrl='javascript:alert(1)'/></body></opml>", "'Bad'"),
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;">]><opml><body/></opml>',
            "entity",
        ),
    ],
    ids=["truncated", "not-opml", "no-body", "no-feeds", "bad-url", "entities"],
)
def test_bad_opml_is_refused_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_opml(data)
