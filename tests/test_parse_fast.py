"""Plain RSS read with lxml gives the very articles feedparser gives, and anything else
is read by feedparser: a feed's articles, and above all their uids, do not depend on
which parser read it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from unittest import mock
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allywatch.language.records import Article
from allywatch.watchers import parse as parse_module
from allywatch.watchers.fast_parse import read_plain_rss
from allywatch.watchers.parse import FeedParseError, parse_feed

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FEED_URL = "https://feeds.example.org/world/rss.xml"
RSS = {"content-type": "application/rss+xml; charset=utf-8"}
NS = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" '
    'xmlns:atom="http://www.w3.org/2005/Atom"'
)


def rss(*items: str, channel: str = "", head: str = '<?xml version="1.0" encoding="utf-8"?>'):
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        f'{head}<rss version="2.0" {NS}><channel><title>World</title>'
        f"<link>https://www.example.org/</link>{channel}{body}</channel></rss>"
    ).encode()


@contextmanager
def feedparser_only() -> Iterator[None]:
    with mock.patch.object(parse_module, "read_plain_rss", lambda _body, _headers: None):
        yield


def read(body: bytes, headers: dict[str, str], location: str) -> list[Article] | str:
    try:
        return parse_feed(body, headers, "World", location, NOW)
    except FeedParseError as exc:
        return str(exc)


def both_ways(body: bytes, headers=RSS, location: str = FEED_URL):
    """(articles as parse_feed reads them now, articles read by feedparser alone)."""
    now = read(body, headers, location)
    with feedparser_only():
        return now, read(body, headers, location)


def lowered(headers: dict[str, str]) -> dict[str, str]:
    """The headers as parse_feed hands them to the lxml reader."""
    return {"content-type": "application/xml"} | {k.lower(): v for k, v in headers.items()}


READ_WITH_LXML = {
    "plain": rss(
        "<title>Iran takes delivery of Su-35 jets</title>"
        "<link>https://www.example.org/news/su35?utm_source=rss&amp;id=7</link>"
        "<description>&lt;p&gt;State TV &lt;b&gt;says&lt;/b&gt; so.&lt;/p&gt;</description>"
        "<pubDate>Tue, 30 Apr 2024 09:15:00 +0300</pubDate>"
        '<guid isPermaLink="false">urn:example:su35-1</guid>'
    ),
    "cdata-and-entities": rss(
        "<title>Talks &amp; &#8220;progress&#8221; on gas</title><link>https://e.org/a</link>"
        "<description><![CDATA[<div>Moscow &amp; Beijing <i>agree</i>&nbsp;terms"
        "<script>alert(1)</script></div>]]></description>"
    ),
    "double-escaped": rss(
        "<title>Iran&amp;#8217;s jets &amp;amp; Russia&amp;#39;s deal</title>"
        "<link>https://e.org/a?x=1&amp;amp;y=2&amp;copy;</link>"
    ),
    "guids": rss(
        "<title>No guid</title><link>https://e.org/w?utm_campaign=x</link>",
        '<title>Opaque guid</title><link>https://e.org/o</link><guid isPermaLink="false">'
        "1234</guid>",
        "<title>Bare guid, a permalink by default</title><guid>5678</guid>",
        "<title>Guid is the link</title><guid>https://e.org/g/1</guid>",
        "<title>Guid before link</title><guid>https://e.org/g/2</guid>"
        "<link>https://e.org/l/2</link>",
        "<title>Empty guid</title><link>https://e.org/e</link><guid></guid>",
    ),
    "relative-links": rss(
        "<title>One</title><link>/news/1</link>", "<title>Two</title><link>s-2.html</link>"
    ),
    "dates": rss(
        "<title>Future</title><link>https://e.org/2</link>"
        "<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate>",
        "<title>Garbled</title><link>https://e.org/3</link><pubDate>yesterday-ish</pubDate>",
        "<title>No zone</title><link>https://e.org/4</link>"
        "<pubDate>Tue, 30 Apr 2024 09:15:00</pubDate>",
        "<title>Named zone</title><link>https://e.org/5</link>"
        "<pubDate>Tue, 30 Apr 2024 09:15:00 EDT</pubDate>",
        "<title>ISO</title><link>https://e.org/6</link><pubDate>2024-04-30T09:15:00+05:30</pubDate>",
        "<title>dc:date</title><link>https://e.org/7</link><dc:date>2024-04-29T08:00:00Z</dc:date>",
        "<title>Both</title><link>https://e.org/8</link><dc:date>2024-04-29T08:00:00Z</dc:date>"
        "<pubDate>Sun, 28 Apr 2024 08:00:00 GMT</pubDate>",
        "<title>Empty</title><link>https://e.org/9</link><pubDate> </pubDate>",
    ),
    "content-encoded": rss(
        "<title>Long read</title><link>https://e.org/l</link>"
        "<content:encoded><![CDATA[<p>The whole <b>article</b>.</p>]]></content:encoded>",
        "<title>Both</title><link>https://e.org/b</link><content:encoded>Full</content:encoded>"
        "<description>Short</description>",
        "<title>Empty description</title><link>https://e.org/c</link>"
        "<description></description><content:encoded>Full</content:encoded>",
    ),
    "google-news": rss(
        "<title>Iran receives Su-35 jets - Reuters</title>"
        "<link>https://news.google.com/rss/articles/CBMiAU_yqLN0aGlzIGlzIG5vdA?oc=5</link>"
        '<guid isPermaLink="false">CBMiAU_yqLN0aGlzIGlzIG5vdA</guid>'
        '<source url="https://www.reuters.com">Reuters</source>',
        "<title>No url</title><link>https://news.google.com/x</link><source>AP</source>",
    ),
    "mojibake-and-cp1252": rss(
        "<title>CafÃ© in Astana \x93quoted\x94</title><link>https://e.org/m</link>",
    ),
    "ignored-elements": rss(
        "<title>Media</title><link>https://e.org/p</link><dc:creator>A. Writer</dc:creator>"
        '<category domain="x">World</category><enclosure url="https://e.org/a.mp3" length="1"'
        ' type="audio/mpeg"/><media:content url="https://e.org/i.jpg"/><!-- a comment -->'
        "<comments>https://e.org/p#c</comments>"
        '<post-id xmlns="com-wordpress:feed-additions:1">123</post-id>'
        '<wfw:commentRss xmlns:wfw="http://wellformedweb.org/CommentAPI/">https://e.org/p/feed'
        '</wfw:commentRss><slash:comments xmlns:slash="http://purl.org/rss/1.0/modules/slash/">'
        "4</slash:comments>",
        channel='<atom:link href="https://feeds.example.org/world/rss.xml" rel="self"/>',
    ),
    "whitespace-and-untitled": rss(
        "<title>\n   Spaced   title \n</title><link>\n https://e.org/s \n</link>",
        "<description>Only a summary</description><link>https://e.org/u</link>",
        "<link>https://e.org/nothing</link>",
    ),
    "no-items": rss(),
}


@pytest.mark.parametrize("body", READ_WITH_LXML.values(), ids=READ_WITH_LXML.keys())
def test_plain_rss_is_read_with_lxml_into_the_articles_feedparser_gives(body: bytes) -> None:
    assert read_plain_rss(body, lowered(RSS)) is not None
    now, before = both_ways(body)
    assert now == before


def test_a_local_file_feed_resolves_links_against_its_site_either_way(tmp_path) -> None:
    body = rss("<title>One</title><link>/news/1</link>", "<title>Two</title><guid>7</guid>")
    now, before = both_ways(body, {}, str(tmp_path / "feed.xml"))
    assert now == before
    assert isinstance(now, list) and now[0].link == "https://www.example.org/news/1"


CYRILLIC = (
    '<rss version="2.0"><channel><title>Новости</title><item><title>Поставка Су-35 в Иран'
    "</title><link>https://example.ru/1</link></item></channel></rss>"
)
READ_WITH_FEEDPARSER = {
    "atom": (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>S</title>'
        b'<entry><id>tag:s,2024:1</id><title>Deal</title><link href="https://s.example/d"/>'
        b"<updated>2024-04-30T10:00:00+03:00</updated></entry></feed>",
        RSS,
    ),
    "rdf": (
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://r.example/"><title>R'
        b'</title></channel><item rdf:about="https://r.example/1"><title>RDF item</title>'
        b"<link>https://r.example/1</link></item></rdf:RDF>",
        RSS,
    ),
    "cp1251-declared": (
        ('<?xml version="1.0" encoding="windows-1251"?>' + CYRILLIC).encode("cp1251"),
        {},
    ),
    "cp1251-http-charset": (
        CYRILLIC.encode("cp1251"),
        {"content-type": "text/xml; charset=windows-1251"},
    ),
    "text-xml-without-charset": (CYRILLIC.encode(), {"content-type": "text/xml"}),
    "utf16": (
        ('<?xml version="1.0" encoding="utf-16"?>' + CYRILLIC).encode("utf-16"),
        {"content-type": "application/xml"},
    ),
    "html-entity": (rss("<title>First &nbsp; story</title><link>https://e.org/1</link>"), RSS),
    "inline-markup": (
        rss("<title>Second <b>story</b> here</title><link>https://e.org/2</link>"),
        RSS,
    ),
    "doctype": (
        rss(
            "<title>&lol; x</title>",
            head='<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">]>',
        ),
        RSS,
    ),
    "xml-base": (
        rss("<title>Based</title><link>a/1</link>").replace(
            b"<channel>", b'<channel xml:base="https://elsewhere.example/">'
        ),
        RSS,
    ),
    "unknown-element": (
        rss("<title>T</title><link>https://e.org/1</link><media:title>Other</media:title>"),
        RSS,
    ),
    "two-titles": (rss("<title>T</title><title>U</title><link>https://e.org/1</link>"), RSS),
    "titled-type": (rss('<title type="html">T</title><link>https://e.org/1</link>'), RSS),
    "channel-alternate-link": (
        rss("<title>T</title><link>x/1</link>", channel='<atom:link href="https://a.example/"/>'),
        RSS,
    ),
    "truncated": (rss("<title>T</title><link>https://e.org/1</link>")[:-30], RSS),
    "html-page": (b"<!DOCTYPE html><html><body><h1>Service unavailable</h1></body></html>", RSS),
}


@pytest.mark.parametrize(
    ("body", "headers"), READ_WITH_FEEDPARSER.values(), ids=READ_WITH_FEEDPARSER.keys()
)
def test_what_the_lxml_reader_cannot_promise_is_left_to_feedparser(
    body: bytes, headers: dict[str, str]
) -> None:
    assert read_plain_rss(body, lowered(headers)) is None
    now, before = both_ways(body, headers)
    assert now == before


item_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("&<>]\x85\x93é"),
    max_size=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "title": item_text,
                "description": item_text,
                "link": st.sampled_from(["https://e.org/a", "/rel/b", " c?x=1&y=2 ", ""]),
                "guid": st.sampled_from(["urn:x:1", "42", "https://e.org/g", ""]),
                "pubDate": st.sampled_from(
                    ["Tue, 30 Apr 2024 09:15:00 +0300", "2024-04-30T09:15:00Z", "soon", ""]
                ),
            },
        ),
        max_size=4,
    ),
    permalink=st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"']),
)
def test_any_plain_rss_gives_the_same_articles_either_way(
    items: list[dict[str, str]], permalink: str
) -> None:
    body = rss(
        *(
            "".join(
                f"<{tag}{permalink if tag == 'guid' else ''}>{escape(value)}</{tag}>"
                for tag, value in item.items()
            )
            for item in items
        )
    )
    now, before = both_ways(body)
    assert now == before


URL_BASES = ["", "http://127.0.0.1:8080/feed.xml", "https://news.example/rss/", "ftp://x.example/"]
TRICKY_URLS = [
    "https://a.example/x?",
    "https://a.example/x#",
    "https://a.example/x?#f",
    "https://a.example/x?q#",
    "https://a.example/x;p",
    "https://a.example/x;",
    "http://[::1]/x",
    "http://[::1/x",
    "HTTPS://A.example/x",
    "https:///a.example/x",
    "https://?q",
    "https://#f",
    "https://a.example/\tx",
    "http://\t8080",
    "https://a.example/ü",
    "https://ä.example/x",
    "https://a.example/x#f?q",
    "https://a.example?q=1",
    "https://a.example/./b/../c",
    "https://a.example",
    "http://a.example/x?q=1&amp;utm_source=rss",
]


@given(
    base=st.sampled_from(URL_BASES),
    url=st.one_of(
        st.sampled_from(TRICKY_URLS),
        st.builds(
            "".join,
            st.lists(
                st.sampled_from(
                    [
                        "http",
                        "https",
                        "://",
                        "/",
                        "?",
                        "#",
                        ";",
                        "[",
                        "]",
                        ":",
                        "&",
                        "=",
                        "a.example",
                        "x",
                        "%20",
                        " ",
                        "\t",
                        "..",
                        ".",
                        "ü",
                        "@",
                        "8080",
                    ]
                ),  # fmt: skip
                max_size=10,
            ),
        ),
    ),
)
def test_links_and_guids_resolve_as_feedparser_resolves_them(base: str, url: str) -> None:
    from feedparser.urls import _urljoin

    from allywatch.watchers.fast_parse import _joined

    url = url.strip()
    if url:
        assert _joined(base, url) == _urljoin(base, url)


def test_plain_links_skip_feedparsers_join() -> None:
    from allywatch.watchers import fast_parse

    with mock.patch.object(fast_parse, "feedparser_urljoin") as join:
        assert fast_parse._joined(FEED_URL, "https://a.example/x?q=1#f") == (
            "https://a.example/x?q=1#f"
        )
    join.assert_not_called()
