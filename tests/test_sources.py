"""Source kinds -> feed locations, and OPML import."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from allywatch.watchers.sources import SourceSpec, read_opml, source_location


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_plain_urls_and_paths_are_used_as_given() -> None:
    assert source_location(SourceSpec("TASS", url=" https://tass.com/rss/v2.xml ")) == (
        "https://tass.com/rss/v2.xml"
    )
    assert source_location(SourceSpec("Sample", path="examples/feeds/sample.xml")) == (
        "examples/feeds/sample.xml"
    )


def test_google_news_query_becomes_its_search_feed() -> None:
    url = source_location(SourceSpec("GN", google_news='"Su-35" Iran'))
    assert url.startswith("https://news.google.com/rss/search?")
    assert query_of(url) == {"q": '"Su-35" Iran', "hl": "en-US", "gl": "US", "ceid": "US:en"}


def test_google_news_language_and_region_choose_the_edition() -> None:
    url = source_location(SourceSpec("GN ru", google_news="Су-35 Иран", language="ru", region="RU"))
    assert query_of(url) == {"q": "Су-35 Иран", "hl": "ru", "gl": "RU", "ceid": "RU:ru"}
    url = source_location(SourceSpec("GN uk", google_news="CSTO", region="GB"))
    assert query_of(url)["hl"] == "en-GB"


def test_gdelt_query_becomes_an_article_list_rss_feed() -> None:
    url = source_location(SourceSpec("GDELT", gdelt='"Power of Siberia 2"', language="ru"))
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
    ("spec", "message"),
    [
        (SourceSpec("Both", url="https://a.example/rss", path="x.xml"), "exactly one"),
        (SourceSpec("None"), "exactly one"),
        (SourceSpec("Ftp", url="ftp://a.example/rss"), "not an http"),
        (SourceSpec("Relative", url="/rss.xml"), "not an http"),
        (SourceSpec("Blank", google_news="  "), "empty"),
        (SourceSpec("Lang", google_news="x", language="english"), "two-letter"),
        (SourceSpec("Region", google_news="x", region="usa"), "two-letter"),
        (SourceSpec("Klingon", gdelt="x", language="tl"), "GDELT language"),
        (SourceSpec("  ", url="https://a.example/rss"), "name"),
    ],
)
def test_unusable_specs_are_refused_naming_the_source(spec: SourceSpec, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        source_location(spec)
    if spec.name.strip():
        assert repr(spec.name) in str(caught.value)


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
    assert all(source_location(spec) == spec.url for spec in specs)


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
