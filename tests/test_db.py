"""`allywatch db upgrade` and `allywatch db copy --to URL`.

The copy's target is the suite's database: PostgreSQL when
ALLYWATCH_TEST_DATABASE_URL is set (the move this command exists for), else
another SQLite file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from feedserver import FeedServer
from newsworld import NewsWorld, moment_arg
from smtpserver import SmtpServer
from sqlalchemy import func, select

from allywatch.cli import main
from allywatch.store.engine import open_engine
from allywatch.store.migrate import head_revision
from allywatch.store.models import ArticleRow, Base, Subscriber


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def ok(config: Path, *args: str) -> str:
    result = cli(config, *args)
    assert result.exit_code == 0, result.output
    return result.output


def everything(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, ids included, in id order."""
    engine = open_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: [
                    dict(row)
                    for row in connection.execute(
                        select(table).order_by(*table.primary_key.columns)
                    ).mappings()
                ]
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


@pytest.fixture
def watched(feed_server: FeedServer, smtp_server: SmtpServer, tmp_path: Path) -> Iterator[tuple]:
    """An SQLite database after three days of news: articles, alerts, a digest sent, a silence.

    Yields the world, the config, and the SMTP server's port.
    """
    world = NewsWorld(feed_server)
    config = world.config(tmp_path / "sqlite", smtp_port=smtp_server.port)
    ok(config, "subscribers", "add", "ana@example.org", "--cadence", "immediate")
    ok(config, "silence", "power-of-siberia-2", "--for", "30d", "--note", "known")
    for moment in world.moments[:3]:
        world.clock = moment
        cli(config, "run", "--clock", moment_arg(moment))
    yield world, config, smtp_server.port


def test_copy_moves_everything_and_keeps_ids(watched: tuple, database_url: str, tmp_path) -> None:
    world, config, smtp_port = watched
    before = everything(f"sqlite:///{tmp_path / 'sqlite' / 'watch.db'}")
    for table in ("sources", "articles", "observations", "transitions", "alerts", "deliveries"):
        assert before[table], f"the test needs rows in {table}"

    output = ok(config, "db", "copy", "--to", database_url)
    assert f"  articles: {len(before['articles'])} rows" in output
    assert everything(database_url) == before

    # The copy is a working database: status agrees, and new rows get new ids.
    moved = world.config(tmp_path / "moved", database=database_url, smtp_port=smtp_port)
    assert ok(moved, "status", "--json") == ok(config, "status", "--json")
    ok(moved, "subscribers", "add", "ben@example.org")
    world.clock = world.moments[3]
    cli(moved, "run", "--clock", moment_arg(world.moments[3]))
    after = everything(database_url)
    assert len(after["articles"]) > len(before["articles"])
    assert after["articles"][: len(before["articles"])] == before["articles"]
    assert max(s["id"] for s in after["subscribers"]) > max(s["id"] for s in before["subscribers"])
    engine = open_engine(database_url)
    try:
        with engine.connect() as connection:
            emails = connection.scalars(select(Subscriber.email).order_by(Subscriber.id)).all()
            articles = connection.scalar(select(func.count()).select_from(ArticleRow))
    finally:
        engine.dispose()
    assert emails == ["ana@example.org", "ben@example.org"]
    assert articles == len(after["articles"])


def test_copy_refuses_a_target_that_holds_data(watched: tuple, database_url: str) -> None:
    _world, config, _port = watched
    ok(config, "db", "copy", "--to", database_url)
    before = everything(database_url)
    refused = cli(config, "db", "copy", "--to", database_url)
    assert refused.exit_code == 1
    assert "the target database is not empty: " in refused.output
    assert "sources (3 rows)" in refused.output
    assert "copy only into an empty database" in refused.output
    assert everything(database_url) == before


def test_copy_refuses_the_configs_own_database(watched: tuple, tmp_path: Path) -> None:
    _world, config, _port = watched
    refused = cli(config, "db", "copy", "--to", f"sqlite:///{tmp_path / 'sqlite' / 'watch.db'}")
    assert refused.exit_code == 1
    assert "--to names the config's own database" in refused.output


def test_copy_names_a_target_it_cannot_reach(watched: tuple) -> None:
    _world, config, _port = watched
    refused = cli(config, "db", "copy", "--to", "postgresql://ally:secret@127.0.0.1:1/nowhere")
    assert refused.exit_code == 1
    assert "target database postgresql://ally:***@127.0.0.1:1/nowhere: cannot open" in (
        refused.output
    )
    assert "secret" not in refused.output


def test_upgrade_brings_a_new_database_to_the_current_schema(
    database_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_text(f"database: '{database_url}'\nsources: []\n", encoding="utf-8")
    head = head_revision()
    assert f"schema upgraded from revision none to {head}" in ok(config, "db", "upgrade")
    assert f"schema up to date (revision {head})" in ok(config, "db", "upgrade")
    assert ok(config, "status") is not None
