"""A first cycle, on a database that holds no article, knows which articles are stored
without asking the database, group after group, and stores what asking would have."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from allywatch import cycle
from allywatch.cycle import KnownArticles, run_cycle
from allywatch.language.records import Article
from allywatch.store.engine import reading
from allywatch.workspace import Workspace

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rss(*items: str) -> str:
    body = "".join(f"<item>{item}</item>" for item in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'


def item(title: str, link: str, guid: str) -> str:
    return f"<title>{title}</title><link>{link}</link><guid isPermaLink='false'>{guid}</guid>"


FEEDS = {
    "a": rss(
        item("Ceasefire talks open in Geneva", "https://wire.example/1", "1"),
        item("Harvest figures revised upwards", "https://wire.example/2", "2"),
    ),
    # A later group's copy of a's first item (same link, its own GUID), and its own item.
    "b": rss(
        item("Ceasefire talks open in Geneva", "https://wire.example/1", "b-1"),
        item("Port reopens after the storm", "https://paper.example/3", "3"),
    ),
    # Its GUID "b|urn:x" reads, as a uid of before, as b's item "urn:x" of the same group.
    "c": rss(
        item("Rail strike called off", "https://rail.example/4", "urn:x"),
        item("Rail strike called off again", "https://rail.example/5", "c|urn:x"),
    ),
}


def workspace(folder: Path, database_url: str) -> Workspace:
    sources = ""
    for name, body in FEEDS.items():
        (folder / f"{name}.xml").write_text(body, "utf-8")
        sources += f"  - {{name: {name}, path: '{folder / f'{name}.xml'}'}}\n"
    config = folder / "allywatch.yaml"
    config.write_text(f"database: {database_url}\nsources:\n{sources}", "utf-8")
    return Workspace.open(config)


def stored(space: Workspace) -> list[tuple[str, str, str]]:
    from allywatch.store.models import ArticleRow

    with reading(space.engine) as session:
        rows = session.query(ArticleRow).order_by(ArticleRow.id)
        return [(r.source_name, r.uid, r.link) for r in rows]


@pytest.mark.parametrize("asking", [False, True], ids=["first cycle", "asking every group"])
def test_a_first_cycle_asks_nothing_and_stores_what_asking_would(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, asking: bool
) -> None:
    monkeypatch.setattr(cycle, "GROUP_ARTICLES", 2)  # each source a group of its own
    asked: list[int] = []
    lookup = KnownArticles.stored.__func__  # type: ignore[attr-defined]

    def counted(cls: type[KnownArticles], session: Session, articles: list[Article]) -> object:
        asked.append(len(articles))
        return lookup(cls, session, articles)

    monkeypatch.setattr(KnownArticles, "stored", classmethod(counted))
    if asking:  # as when another worker stores articles: the database is asked each group
        catch_up = cycle._Stories.catch_up

        def others_stored(self: cycle._Stories, session: Session) -> int:
            catch_up(self, session)
            return 1

        monkeypatch.setattr(cycle._Stories, "catch_up", others_stored)
    space = workspace(tmp_path, database_url)
    try:
        run_cycle(space, NOW, poll=set(FEEDS), send=False)
        rows = stored(space)
    finally:
        space.engine.dispose()
    assert bool(asked) == asking
    assert rows == [
        ("a", "a|a#1", "https://wire.example/1"),
        ("a", "a|a#2", "https://wire.example/2"),
        # b's copy of a's first item, a group later, is known by its link
        ("b", "b|b#3", "https://paper.example/3"),
        # the uid of before of c's second item is c's first item's, stored in the same turn
        ("c", "c|urn:x", "https://rail.example/4"),
        ("c", "c|c|urn:x", "https://rail.example/5"),
    ]
