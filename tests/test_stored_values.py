"""What a feed may say is stored as it is said, on every database.

SQLite does not enforce column lengths; PostgreSQL does. A feed's longest
legitimate values (a long GUID, a long host name, non-Latin text) must be
stored on both, or a single odd item would stop every cycle on PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from allywatch.cli import main
from allywatch.store.engine import open_engine, reading
from allywatch.store.models import ArticleRow

GUID = "urn:uuid:" + "0123456789abcdef" * 31  # 505 characters: under the parser's cap
HOST = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57]) + ".ru"  # 253: DNS's longest
TITLE = "Россия и Иран подписали контракт на поставку Су-35 " * 15


def test_long_values_from_a_feed_are_stored(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<item><title>{TITLE}</title><guid>{GUID}</guid>"
        f"<link>https://{HOST}/news/1</link><description>{TITLE}</description>"
        "<pubDate>Mon, 05 Jan 2026 08:00:00 GMT</pubDate></item></channel></rss>",
        encoding="utf-8",
    )
    config = tmp_path / "allywatch.yaml"
    config.write_text(
        f"database: '{database_url}'\nsources:\n  - {{name: Wire, path: feed.xml}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["--config", str(config), "run", "--clock", "2026-01-05T09:00:00"]
    )
    assert result.exit_code == 0, result.output
    feeds = CliRunner().invoke(main, ["--config", str(config), "feeds", "--json"])
    assert json.loads(feeds.output)[0]["healthy"] is True

    engine = open_engine(database_url)
    try:
        with reading(engine) as session:
            article = session.scalars(select(ArticleRow)).one()
    finally:
        engine.dispose()
    assert article.uid == f"Wire|{GUID}"  # the GUID whole, scoped to its source
    assert article.story == article.uid  # a story is keyed by its first article
    assert article.outlet == "Wire"  # the outlet is the source, whatever host its items link to
    assert article.link == f"https://{HOST}/news/1"
    assert article.title == TITLE.strip()
