"""Parsing in worker processes: the same articles and errors as parsing inline, and
no process started for a quiet cycle."""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import BrokenExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from newsworld import snapshot

from allywatch.cycle import run_cycle
from allywatch.watchers import parse_pool
from allywatch.watchers.parse import FeedParseError, parse_feed
from allywatch.watchers.parse_pool import ParsePool, parse_document
from allywatch.workspace import Workspace

FEEDS = Path(__file__).resolve().parent.parent / "examples" / "feeds"
NOW = datetime(2025, 9, 10, tzinfo=UTC)
HEADERS = {"Content-Type": "application/rss+xml"}


def documents() -> list[tuple[str, bytes]]:
    found = [(feed.stem, feed.read_bytes()) for feed in sorted(FEEDS.glob("*.xml"))]
    assert len(found) >= 3
    return found


def test_a_quiet_cycle_parses_inline_and_starts_no_process() -> None:
    with ParsePool(workers=4) as pool:
        futures = [pool.submit(body, HEADERS, name, name, NOW) for name, body in documents()]
        assert not pool.started
        assert all(f.done() for f in futures)
        assert [[a for a, _ in f.result()] for f in futures] == [
            parse_feed(body, HEADERS, name, name, NOW) for name, body in documents()
        ]


def test_workers_give_the_articles_and_errors_parsing_inline_gives() -> None:
    broken = ("broken", b"\x00\x01 not a feed at all")
    batch = [*documents(), broken]
    with ParsePool(workers=2, threshold=0) as pool:
        futures = [pool.submit(body, HEADERS, name, name, NOW) for name, body in batch]
        assert pool.started
        *parsed, failed = futures
        inline = [parse_document(body, HEADERS, name, name, NOW) for name, body in documents()]
        for future, expected in zip(parsed, inline, strict=True):
            got = future.result(timeout=60)
            assert [a for a, _ in got] == [a for a, _ in expected]
            # The fingerprints taken in a worker are the ones taken here.
            assert [vars_of(p) for _, p in got] == [vars_of(p) for _, p in expected]
        with pytest.raises(FeedParseError, match="broken"):
            failed.result(timeout=60)


def vars_of(print_: object) -> tuple | None:
    if print_ is None:
        return None
    return tuple(getattr(print_, name) for name in print_.__slots__)


def test_leaving_the_pool_stops_its_workers_promptly() -> None:
    before = threading.active_count()
    with ParsePool(workers=2, threshold=0) as pool:
        for name, body in documents() * 20:
            pool.submit(body, HEADERS, name, name, NOW)
    assert not pool.started
    assert threading.active_count() == before


def test_a_large_batch_goes_to_the_workers_from_its_first_document() -> None:
    batch = documents()
    size = sum(len(body) for _, body in batch)
    with ParsePool(workers=1, threshold=size - 1) as pool:
        pool.expect(size)
        name, body = batch[0]
        first = pool.submit(body, HEADERS, name, name, NOW)
        assert pool.started
        assert [a for a, _ in first.result(timeout=60)] == parse_feed(
            body, HEADERS, name, name, NOW
        )
    with ParsePool(workers=1, threshold=size) as pool:  # the whole batch is not past it
        pool.expect(size)
        for name, body in batch:
            assert pool.submit(body, HEADERS, name, name, NOW).done()
        assert not pool.started


def test_no_workers_means_parsing_inline_however_much_there_is() -> None:
    with ParsePool(workers=0, threshold=0) as pool:
        for name, body in documents():
            assert pool.submit(body, HEADERS, name, name, NOW).done()
        assert not pool.started
    with pytest.raises(ValueError, match="negative"):
        ParsePool(workers=-1)


def _cycle(folder: Path, workers: int) -> Path:
    folder.mkdir()
    sources = "".join(
        f"  - {{name: {feed.stem}, path: '{feed}'}}\n" for feed in sorted(FEEDS.glob("*.xml"))
    )
    config = folder / "allywatch.yaml"
    config.write_text(
        f"database: sqlite:///watch.db\nparse_workers: {workers}\nsources:\n{sources}",
        encoding="utf-8",
    )
    workspace = Workspace.open(config)
    try:
        report = run_cycle(workspace, NOW)
    finally:
        workspace.engine.dispose()
    assert report.new_articles > 10 and not report.failed
    return folder / "watch.db"


def test_a_cycle_parsing_in_workers_stores_what_an_inline_cycle_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inline = snapshot(_cycle(tmp_path / "inline", workers=0))
    monkeypatch.setattr(parse_pool, "DEFAULT_THRESHOLD", 0)  # every document to the workers
    started: list[bool] = []
    close = ParsePool.close

    def noting_close(pool: ParsePool) -> None:
        started.append(pool.started)
        close(pool)

    monkeypatch.setattr(ParsePool, "close", noting_close)
    assert snapshot(_cycle(tmp_path / "workers", workers=2)) == inline
    assert started == [True]
    assert inline["transitions"]


def test_the_cycle_parses_waiting_documents_itself_while_it_waits() -> None:
    batch = documents() * 10
    with ParsePool(workers=1, threshold=0) as pool:
        futures = [pool.submit(body, HEADERS, name, name, NOW) for name, body in batch]
        helped = 0
        while pool.help():
            helped += 1
        assert helped > 0  # with one worker and 2 in flight, most documents were waiting
        results = [f.result(timeout=60) for f in futures]
    assert [[a for a, _ in r] for r in results] == [
        parse_feed(body, HEADERS, name, name, NOW) for name, body in batch
    ]


def test_a_killed_worker_fails_its_documents_with_a_clear_error() -> None:
    name, body = documents()[0]
    with ParsePool(workers=1, threshold=0) as pool:
        pool.submit(body, HEADERS, name, name, NOW).result(timeout=60)  # the worker is up
        # As the kernel's out-of-memory killer would:
        for pid in list(pool._executor._processes):  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
        later = [pool.submit(body, HEADERS, name, name, NOW) for name, body in documents()]
        errors = []
        for future in later:
            try:
                future.result(timeout=60)
            except BrokenExecutor as exc:
                errors.append(exc)
        assert errors  # reported as failures, not a hang


def test_workers_leave_ctrl_c_and_sigterm_to_the_cycle() -> None:
    name, body = documents()[0]
    with ParsePool(workers=1, threshold=0) as pool:
        pool.submit(body, HEADERS, name, name, NOW).result(timeout=60)
        (pid,) = list(pool._executor._processes)  # type: ignore[union-attr]
        status = Path(f"/proc/{pid}/status").read_text()
        ignored = int(
            next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16
        )
        assert ignored & (1 << (signal.SIGINT - 1)) and ignored & (1 << (signal.SIGTERM - 1))
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
        again = pool.submit(body, HEADERS, name, name, NOW)
        assert [a for a, _ in again.result(timeout=60)] == parse_feed(
            body, HEADERS, name, name, NOW
        )
