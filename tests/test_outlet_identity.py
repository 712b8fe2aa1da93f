"""An item's outlet comes from its source, and a GUID names an item of its source only."""

from __future__ import annotations

from datetime import UTC, datetime

from allywatch.cycle import KnownArticles
from allywatch.store import queries
from allywatch.store.engine import open_engine, writing
from allywatch.store.migrate import upgrade
from allywatch.watchers.parse import parse_feed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
XML = {"Content-Type": "application/rss+xml"}


def rss(*items: str) -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'.encode()


def item(n: int, host: str, guid: str | None = None) -> str:
    guid_tag = f'<guid isPermaLink="false">{guid}</guid>' if guid else ""
    return f"<title>Story {n}</title><link>https://{host}/news/{n}</link>{guid_tag}"


def test_a_feed_linking_to_four_hosts_is_one_outlet() -> None:
    hosts = ["reuters.com", "apnews.com", "www.bbc.co.uk", "tass.ru"]
    body = rss(*(item(n, host) for n, host in enumerate(hosts)))
    articles = parse_feed(body, XML, "Blog", "https://feeds.someblog.co.uk/all.xml", NOW)
    assert {a.outlet for a in articles} == {"someblog.co.uk"}


def test_a_feed_without_a_registered_domain_is_its_sources_outlet() -> None:
    articles = parse_feed(rss(item(1, "reuters.com")), XML, "Local wire", "http://127.0.0.1/f", NOW)
    assert [a.outlet for a in articles] == ["Local wire"]


def test_an_aggregators_items_keep_the_outlet_they_link_to() -> None:
    gdelt = "https://api.gdeltproject.org/api/v2/doc/doc?query=x&format=rss"
    body = rss(item(1, "news.bbc.co.uk"), item(2, "www.reuters.com"))
    articles = parse_feed(body, XML, "GDELT search", gdelt, NOW)
    assert [a.outlet for a in articles] == ["bbc.co.uk", "reuters.com"]


def test_two_sources_sharing_a_guid_are_two_items() -> None:
    one = parse_feed(rss(item(1, "a.example", "urn:story:1")), XML, "A", "https://a.example/f", NOW)
    two = parse_feed(rss(item(1, "b.example", "urn:story:1")), XML, "B", "https://b.example/f", NOW)
    assert one[0].uid != two[0].uid
    known = KnownArticles()
    assert known.take(one[0]) and known.take(two[0])


def test_articles_stored_before_guids_were_per_source_are_still_known(database_url: str) -> None:
    """An upgraded database holds uids without the source prefix: the same items
    read again after the upgrade are not new (no second alert)."""
    engine = open_engine(database_url)
    upgrade(engine)
    body = rss("<title>No link here</title><guid isPermaLink='false'>77</guid>")
    (article,) = parse_feed(body, XML, "Wire", "https://feeds.wire.example/rss", NOW)
    (elsewhere,) = parse_feed(body, XML, "Other", "https://feeds.wire.example/rss", NOW)
    with writing(engine) as session:
        queries.add_article(
            session,
            uid="feeds.wire.example#77",  # the uid as stored before
            link="",
            title=article.title,
            summary="",
            published_at=NOW,
            first_seen_at=NOW,
            source_name="Wire",
            outlet="wire.example",
            story="feeds.wire.example#77",
        )
    with writing(engine) as session:
        known = KnownArticles.stored(session, [article, elsewhere])
    assert not known.take(article)
    assert known.take(elsewhere)  # another source's item with the same GUID is its own
    engine.dispose()
