"""Feed bytes -> Articles: the mess real feeds contain, and what a reader should get."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from allywatch.watchers.fetch import FetchRequest, fetch_all_sync
from allywatch.watchers.links import canonical_link
from allywatch.watchers.parse import MAX_SUMMARY_CHARS, FeedParseError, parse_feed

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FEED_URL = "https://feeds.example.org/world/rss.xml"
XML = {"content-type": "application/rss+xml; charset=utf-8"}


def rss(*items: str, head: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        f'{head}<rss version="2.0"><channel><title>World</title>'
        f"<link>https://www.example.org/</link>{body}</channel></rss>"
    ).encode()


def parse(body: bytes, headers=XML, location: str = FEED_URL, now: datetime = NOW):
    return parse_feed(body, headers, "Example World", location, now)


def test_a_plain_item_becomes_a_normalised_article() -> None:
    (article,) = parse(
        rss(
            "<title>Iran takes delivery of Su-35 jets</title>"
            "<link>https://www.example.org/news/su35?utm_source=rss&amp;utm_medium=feed&amp;id=7</link>"
            "<description>&lt;p&gt;State TV &lt;b&gt;says&lt;/b&gt; the jets arrived.&lt;/p&gt;"
            "</description>"
            "<pubDate>Tue, 30 Apr 2024 09:15:00 +0300</pubDate>"
            '<guid isPermaLink="false">urn:example:su35-1</guid>'
        )
    )
    assert article.title == "Iran takes delivery of Su-35 jets"
    assert article.summary == "State TV says the jets arrived."
    assert article.link == "https://www.example.org/news/su35?id=7"
    assert article.outlet == "example.org"
    assert article.source == "Example World"
    assert article.published == datetime(2024, 4, 30, 6, 15, tzinfo=UTC)
    assert article.published.tzinfo is UTC
    assert not article.published_estimated
    assert article.uid == "Example World|urn:example:su35-1"  # a GUID names an item of its source


def test_cdata_and_html_entities_come_out_as_plain_text() -> None:
    (article,) = parse(
        rss(
            "<title>Talks &amp; &#8220;progress&#8221; on gas</title>"
            "<link>https://example.org/a</link>"
            "<description><![CDATA[<div>Moscow &amp; Beijing <i>agree</i>&nbsp;terms"
            "<script>alert(1)</script></div>]]></description>"
        )
    )
    assert article.title == "Talks & \u201cprogress\u201d on gas"
    assert article.summary == "Moscow & Beijing agree terms"


CYRILLIC_ITEM = (
    "<channel><title>Новости</title><item><title>Поставка Су-35 в Иран</title>"
    "<link>https://example.ru/1</link></item></channel></rss>"
)


def test_encoding_from_the_xml_declaration_is_honoured() -> None:
    body = '<?xml version="1.0" encoding="windows-1251"?><rss version="2.0">' + CYRILLIC_ITEM
    (article,) = parse(body.encode("cp1251"), headers={})
    assert article.title == "Поставка Су-35 в Иран"


def test_encoding_from_the_http_charset_is_honoured() -> None:
    body = ('<rss version="2.0">' + CYRILLIC_ITEM).encode("cp1251")
    (article,) = parse(body, headers={"Content-Type": "text/xml; charset=windows-1251"})
    assert article.title == "Поставка Су-35 в Иран"


def test_utf16_with_a_byte_order_mark_is_decoded() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>T</title>'
        "<item><title>Kazakhstan — Қазақстан</title><link>https://example.kz/1</link></item>"
        "</channel></rss>"
    ).encode("utf-16")
    (article,) = parse(body, headers={"content-type": "application/xml"})
    assert article.title == "Kazakhstan — Қазақстан"


def test_double_escaped_entities_are_unescaped() -> None:
    (article,) = parse(
        rss(
            "<title>Iran&amp;#8217;s jets &amp;amp; Russia&amp;#39;s deal</title>"
            "<link>https://example.org/a</link>"
        )
    )
    assert article.title == "Iran\u2019s jets & Russia's deal"


def test_utf8_without_any_declaration_or_content_type_is_read_as_utf8(tmp_path) -> None:
    body = rss("<title>Zełenski w Kijowie — été</title><link>https://example.pl/1</link>", head="")
    (article,) = parse_feed(body, {}, "Local", str(tmp_path / "feed.xml"), NOW)
    assert article.title == "Zełenski w Kijowie — été"


def test_relative_links_resolve_against_the_feed_location() -> None:
    articles = parse(
        rss(
            "<title>One</title><link>/news/1</link>",
            "<title>Two</title><link>story-2.html</link>",
        ),
        headers={**XML, "content-location": "https://feeds.example.org/world/rss.xml"},
    )
    assert [a.link for a in articles] == [
        "https://feeds.example.org/news/1",
        "https://feeds.example.org/world/story-2.html",
    ]


def test_atom_xml_base_and_content_are_used() -> None:
    body = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://site.example/news/">
  <title>Site</title>
  <entry>
    <id>tag:site.example,2024:1</id>
    <title type="html">&lt;b&gt;Pipeline&lt;/b&gt; deal signed</title>
    <link rel="alternate" href="pos2/deal"/>
    <updated>2024-04-30T10:00:00+03:00</updated>
    <content type="html">&lt;p&gt;Gazprom and CNPC sign&lt;/p&gt;</content>
  </entry>
</feed>"""
    (article,) = parse(body, {"content-type": "application/atom+xml"})
    assert article.title == "Pipeline deal signed"
    assert article.summary == "Gazprom and CNPC sign"
    assert article.link == "https://site.example/news/pos2/deal"
    assert article.published == datetime(2024, 4, 30, 7, 0, tzinfo=UTC)
    assert article.uid == "Example World|tag:site.example,2024:1"


def test_local_file_feeds_resolve_relative_links_against_the_site(tmp_path) -> None:
    feed = tmp_path / "local.xml"
    feed.write_bytes(rss("<title>One</title><link>/news/1</link>"))
    (fetched,) = fetch_all_sync([FetchRequest("Local", str(feed))])
    (article,) = parse_feed(fetched.body, fetched.headers, "Local", str(feed), NOW)
    assert article.link == "https://www.example.org/news/1"
    assert article.outlet == "Local"  # a feed file has no domain: the source is the outlet


def test_missing_dates_fall_back_to_first_seen_and_future_dates_are_clamped() -> None:
    undated, future, garbled = parse(
        rss(
            "<title>Undated</title><link>https://example.org/1</link>",
            "<title>Future</title><link>https://example.org/2</link>"
            "<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate>",
            "<title>Garbled</title><link>https://example.org/3</link>"
            "<pubDate>yesterday-ish</pubDate>",
        )
    )
    for article in (undated, future, garbled):
        assert article.published == NOW
        assert article.published_estimated


def test_naive_now_is_taken_as_utc() -> None:
    (article,) = parse(
        rss("<title>Undated</title><link>https://example.org/1</link>"),
        now=datetime(2024, 5, 1, 12, 0),
    )
    assert article.published == NOW


def test_ids_are_stable_and_derived_when_the_guid_is_missing() -> None:
    item = "<title>Wire story</title><link>https://example.org/w?utm_campaign=x</link>"
    first = parse(rss(item))[0]
    again = parse(rss(item), now=NOW + timedelta(hours=3))[0]
    retitled = parse(rss("<title>Wire story, updated</title><link>https://example.org/w</link>"))[0]
    assert first.uid == again.uid
    assert first.uid != retitled.uid
    # The tracking parameter is not part of the identity.
    same_link = parse(rss("<title>Wire story</title><link>https://example.org/w</link>"))[0]
    assert same_link.uid == first.uid


def test_bare_guids_are_scoped_to_the_feed_host() -> None:
    item = '<title>A</title><link>https://example.org/a</link><guid isPermaLink="false">1234</guid>'
    (here,) = parse(rss(item))
    (there,) = parse(rss(item), location="https://other.example.net/feed")
    assert here.uid == "Example World|feeds.example.org#1234"
    assert here.uid != there.uid


def test_google_news_items_name_the_real_outlet() -> None:
    opaque = "CBMiAU_yqLN0aGlzIGlzIG5vdCBhIHVybA"
    real = "https://www.reuters.com/world/iran-receives-su-35-2024-04-30/"
    packed = base64.urlsafe_b64encode(
        b"\x08\x13\x22" + bytes([len(real)]) + real.encode() + b"\xd2\x01\x00"
    ).decode()
    body = rss(
        "<title>Iran receives Su-35 jets - Reuters</title>"
        f"<link>https://news.google.com/rss/articles/{opaque}?oc=5</link>"
        f'<guid isPermaLink="false">{opaque}</guid>'
        '<source url="https://www.reuters.com">Reuters</source>',
        "<title>Su-35 deliveries begin - AP News</title>"
        f"<link>https://news.google.com/rss/articles/{packed.rstrip('=')}?oc=5</link>"
        '<source url="https://apnews.com">AP News</source>',
    )
    opaque_item, decoded_item = parse(body, location="https://news.google.com/rss/search?q=x")
    assert opaque_item.outlet == "reuters.com"
    assert opaque_item.title == "Iran receives Su-35 jets"
    assert opaque_item.link == f"https://news.google.com/rss/articles/{opaque}"
    assert decoded_item.link == real
    assert decoded_item.outlet == "reuters.com"  # the link itself says where it lives
    assert decoded_item.title == "Su-35 deliveries begin"


def test_ill_formed_feeds_keep_what_can_be_recovered() -> None:
    truncated = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>First &nbsp; story</title><link>https://example.org/1</link></item>"
        b"<item><title>Second <b>story</title><link>https://example.org/2</link></item>"
        b"<item><title>Thi"
    )
    articles = parse(truncated)
    assert [a.title for a in articles][:2] == ["First story", "Second story"]
    assert articles[1].link == "https://example.org/2"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<!DOCTYPE html><html><body><h1>Service unavailable</h1></body></html>", "not an RSS"),
        (bytes(range(256)) * 4, "not an RSS"),
        (b'{"items": []}', "not an RSS"),
        (b"/etc/passwd", "not an RSS"),  # bytes spelling a path are never opened
        (b"   \n ", "empty"),
        (rss("<description></description>", "<link>https://example.org/x</link>"), "none with"),
    ],
    ids=["html", "binary", "json", "path", "blank", "no-text"],
)
def test_feeds_with_nothing_usable_raise_a_clear_error(body: bytes, why: str) -> None:
    with pytest.raises(FeedParseError, match=why) as caught:
        parse(body)
    assert "Example World" in str(caught.value)


def test_a_well_formed_feed_without_items_is_simply_empty() -> None:
    assert parse(rss()) == []
    assert parse(rss(), headers={}) == []


def test_repeated_items_are_reported_once_and_oversized_text_is_capped() -> None:
    item = "<title>Same</title><link>https://example.org/same</link><guid>urn:x:1</guid>"
    long_item = (
        "<title>Long</title><link>https://example.org/long</link>"
        f"<description>{'word ' * 5000}</description>"
    )
    articles = parse(rss(item, item, long_item))
    assert [a.title for a in articles] == ["Same", "Long"]
    assert len(articles[1].summary) <= MAX_SUMMARY_CHARS


def test_items_without_a_link_keep_their_text_and_the_feed_outlet() -> None:
    (article,) = parse(rss("<title>Breaking: no link</title>"))
    assert article.title == "Breaking: no link"
    assert article.link == ""
    assert article.outlet == "example.org"  # the registrable domain of the feed URL


@pytest.mark.parametrize(
    ("link", "canonical"),
    [
        (
            "HTTPS://WWW.BBC.co.uk:443/news/world-123?at_medium=RSS&at_campaign=KARANGA#top",
            "https://www.bbc.co.uk/news/world-123",
        ),
        (
            "https://example.org/a?id=7&utm_source=tw&q=a+b%2Fc&fbclid=XyZ&gclid=1",
            "https://example.org/a?id=7&q=a+b%2Fc",
        ),
        ("http://example.org:8080/x?ref=home", "http://example.org:8080/x?ref=home"),
        ("https://user:secret@example.org/story", "https://example.org/story"),
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://tass.com/world/1?utm_medium=rss&ct=ga",
            "https://tass.com/world/1",
        ),
        ("/relative/path", "/relative/path"),
    ],
)
def test_canonical_links(link: str, canonical: str) -> None:
    assert canonical_link(link) == canonical
