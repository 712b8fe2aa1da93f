"""A cycle keeps the garbage collector off what lives as long as it does, and hands it
all back when it ends, failing or not."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from allywatch import cycle
from allywatch.cycle import run_cycle
from allywatch.workspace import Workspace

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel><item><title>Ceasefire talks open'
    "</title><link>https://wire.example/1</link></item></channel></rss>"
)


def workspace(folder: Path, database_url: str) -> Workspace:
    (folder / "a.xml").write_text(FEED, "utf-8")
    config = folder / "allywatch.yaml"
    config.write_text(
        f"database: {database_url}\nsources:\n  - {{name: a, path: '{folder / 'a.xml'}'}}\n"
    )
    return Workspace.open(config)


def test_a_cycle_freezes_what_outlives_it_and_unfreezes_it_at_the_end(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen_while_matching: list[int] = []
    match = cycle.match

    def spied(matcher: object, parsed: cycle.Parsed) -> list[cycle.Matched]:
        frozen_while_matching.append(gc.get_freeze_count())
        return match(matcher, parsed)  # type: ignore[arg-type]

    monkeypatch.setattr(cycle, "match", spied)
    space = workspace(tmp_path, database_url)
    try:
        assert gc.get_freeze_count() == 0
        report = run_cycle(space, NOW, poll={"a"}, send=False)
        assert report.new_articles == 1
        assert frozen_while_matching and frozen_while_matching[0] > 0
        assert gc.get_freeze_count() == 0

        def failing(*args: object, **kwargs: object) -> None:
            raise RuntimeError("evaluation failed")

        monkeypatch.setattr(cycle, "evaluate", failing)
        with pytest.raises(RuntimeError):
            run_cycle(space, NOW, poll={"a"}, send=False)
        assert gc.get_freeze_count() == 0
    finally:
        space.engine.dispose()
