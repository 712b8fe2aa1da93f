"""`aggregator: true` on a source: its items are credited to the outlets they come from
(the feed's `<source>` element, else the registrable domain of the item's link), as
Google News and GDELT feeds are by their host; any other source's items are its own."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from feedserver import FeedServer, Reply
from sqlalchemy import select

from allywatch.config import load_config
from allywatch.cycle import run_cycle
from allywatch.store.engine import reading
from allywatch.store.models import ArticleRow
from allywatch.workspace import Workspace

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# One item linking to an outlet, one linking to the aggregator's own page for a story
# whose <source> names the outlet, one with neither: the aggregator's own.
FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Digest</title>
<item><title>Ministers meet in Geneva</title><link>https://www.reuters.com/world/{feed}-1</link></item>
<item><title>Talks resume</title><link>http://127.0.0.1/story/{feed}-2</link>
  <source url="https://feeds.bbci.co.uk/news/rss.xml">BBC News</source></item>
<item><title>Markets close higher</title><link>http://127.0.0.1/story/{feed}-3</link></item>
</channel></rss>"""


def test_an_aggregator_credits_each_item_to_its_outlet(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    for feed in ("aggregator", "plain"):  # the same items under links of their own
        feed_server.route(f"/{feed}.xml", Reply(body=FEED.format(feed=feed).encode()))
    config = tmp_path / "allywatch.yaml"
    config.write_text(
        f"database: '{database_url}'\n"
        "sources:\n"
        f"  - {{name: digest, url: '{feed_server.url('/aggregator.xml')}', aggregator: true}}\n"
        f"  - {{name: plain, url: '{feed_server.url('/plain.xml')}'}}\n",
        encoding="utf-8",
    )
    workspace = Workspace(load_config(config))
    assert [s.aggregator for s in workspace.config.sources] == [True, False]

    report = run_cycle(workspace, NOW)
    assert not report.failed

    with reading(workspace.engine) as session:
        outlets = {
            (source, title): outlet
            for source, title, outlet in session.execute(
                select(ArticleRow.source_name, ArticleRow.title, ArticleRow.outlet)
            )
        }
    assert outlets == {
        ("digest", "Ministers meet in Geneva"): "reuters.com",
        ("digest", "Talks resume"): "bbci.co.uk",
        ("digest", "Markets close higher"): "digest",
        ("plain", "Ministers meet in Geneva"): "plain",
        ("plain", "Talks resume"): "plain",
        ("plain", "Markets close higher"): "plain",
    }
