"""Workers sharing sources: each due source claimed by one worker, claims that run out.

These run on SQLite, and on PostgreSQL when ALLYWATCH_TEST_DATABASE_URL is set;
the ones about concurrent transactions need PostgreSQL (on SQLite one write
transaction at a time is the whole story).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from allywatch.store import claims, queries, reads
from allywatch.store.engine import IDLE_IN_TRANSACTION, open_engine, reading, writing
from allywatch.store.migrate import upgrade

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
MARGIN = timedelta(seconds=30)


def _engine(url: str) -> Iterator[Engine]:
    engine = open_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    yield from _engine(database_url)


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    yield from _engine(postgres_url)


def add_sources(engine: Engine, count: int, next_poll: dict[int, datetime] | None = None):
    """`count` sources s00, s01, ...; returns {id: margin}; next_poll maps index -> time."""
    with writing(engine) as session:
        sources = queries.sync_sources(
            session, [(f"s{i:02d}", f"http://127.0.0.1/{i}") for i in range(count)]
        )
        for index, moment in (next_poll or {}).items():
            sources[index].next_poll_at = moment
        return {s.id: MARGIN for s in sources}


def claim(engine: Engine, worker: str, margins, now=NOW, limit=None) -> list[str]:
    with writing(engine) as session:
        got = claims.claim_due_sources(session, worker, now, LEASE, margins=margins, limit=limit)
        return sorted(s.name for s in got)


def claimed(engine: Engine) -> dict[str, str | None]:
    with reading(engine) as session:
        return {s.name: s.claimed_by for s in reads.list_sources(session)}


def test_each_due_source_goes_to_one_worker(engine: Engine) -> None:
    margins = add_sources(
        engine,
        8,
        {
            0: NOW - timedelta(hours=1),  # overdue
            1: NOW + MARGIN,  # due within its margin
            2: NOW + MARGIN + timedelta(seconds=1),  # not yet
            3: NOW + timedelta(hours=1),  # not yet
        },
    )
    first = claim(engine, "a", margins, limit=3)
    second = claim(engine, "b", margins)
    assert claim(engine, "c", margins) == []
    # Sources never polled come first, then the most overdue.
    assert first == ["s04", "s05", "s06"]
    assert second == ["s00", "s01", "s07"]
    holders = claimed(engine)
    assert {holders[name] for name in first} == {"a"}
    assert {holders[name] for name in second} == {"b"}
    assert holders["s02"] is None and holders["s03"] is None


def test_only_the_named_sources_are_claimed(engine: Engine) -> None:
    margins = add_sources(engine, 4)
    wanted = dict(list(margins.items())[:2])
    assert claim(engine, "a", wanted) == ["s00", "s01"]
    assert claim(engine, "a", {}) == []


def test_a_dead_workers_claims_run_out_after_the_lease(engine: Engine) -> None:
    margins = add_sources(engine, 3)
    assert claim(engine, "dead", margins) == ["s00", "s01", "s02"]
    assert claim(engine, "live", margins, now=NOW + LEASE - timedelta(seconds=1)) == []
    assert claim(engine, "live", margins, now=NOW + LEASE) == ["s00", "s01", "s02"]
    # The dead worker, were it to come back, may no longer store its results.
    with writing(engine) as session:
        ids = [s.id for s in reads.list_sources(session)]
        assert claims.release_source(session, ids[0], "dead") is None
        assert claims.release_source(session, ids[0], "live") is not None
    assert claimed(engine) == {"s00": None, "s01": "live", "s02": "live"}


def test_releasing_frees_a_source_for_the_next_due_time(engine: Engine) -> None:
    margins = add_sources(engine, 2)
    claim(engine, "a", margins)
    with writing(engine) as session:
        for source in reads.list_sources(session):
            released = claims.release_source(session, source.id, "a")
            assert released is not None
            released.next_poll_at = NOW + timedelta(hours=1)
    assert claimed(engine) == {"s00": None, "s01": None}
    assert claim(engine, "b", margins) == []
    assert claim(engine, "b", margins, now=NOW + timedelta(hours=1)) == ["s00", "s01"]


def test_releasing_many_sources_at_once_gives_only_the_workers_own(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    margins = add_sources(engine, 5)
    assert claim(engine, "a", margins, limit=3) == ["s00", "s01", "s02"]
    assert claim(engine, "b", margins) == ["s03", "s04"]
    monkeypatch.setattr(claims, "RELEASE_BATCH", 2)  # the ids go in several queries
    with writing(engine) as session:
        names = {s.id: s.name for s in reads.list_sources(session)}
        released = claims.release_sources(session, list(names), "a")
        assert sorted(names[i] for i in released) == ["s00", "s01", "s02"]
        assert all(source.id == i for i, source in released.items())
    assert claimed(engine) == {"s00": None, "s01": None, "s02": None, "s03": "b", "s04": "b"}


def test_release_all_drops_only_the_workers_own_claims(engine: Engine) -> None:
    margins = add_sources(engine, 4)
    claim(engine, "a", margins, limit=3)
    claim(engine, "b", margins)
    with writing(engine) as session:
        assert claims.release_all(session, "a") == 3
    assert sorted(claimed(engine).values(), key=str) == [None, None, None, "b"]


def test_worker_names_are_unique() -> None:
    assert len({claims.worker_name() for _ in range(100)}) == 100


def test_concurrent_claimers_skip_each_others_rows_without_waiting(pg_engine: Engine) -> None:
    margins = add_sources(pg_engine, 6)
    holding, release = threading.Event(), threading.Event()
    first: list[str] = []

    def slow_claimer() -> None:
        with writing(pg_engine) as session:
            got = claims.claim_due_sources(session, "a", NOW, LEASE, margins=margins, limit=2)
            first.extend(s.name for s in got)
            holding.set()
            release.wait(10)  # the transaction, and its row locks, stay open meanwhile

    thread = threading.Thread(target=slow_claimer)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        second = claim(pg_engine, "b", margins)
        waited = time.monotonic() - started
    finally:
        release.set()
        thread.join()
    assert sorted(first) == ["s00", "s01"]
    assert second == ["s02", "s03", "s04", "s05"]
    assert waited < 5  # did not wait for the other transaction
    holders = claimed(pg_engine)
    assert holders["s00"] == "a" and holders["s02"] == "b"


def test_exclusive_steps_take_turns_across_connections(pg_engine: Engine) -> None:
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with writing(pg_engine) as session:
            claims.exclusive(session, claims.EVALUATION)
            order.append("first holds")
            holding.set()
            release.wait(10)
            order.append("first done")

    def second() -> None:
        with writing(pg_engine) as session:
            claims.exclusive(session, claims.EVALUATION)
            order.append("second holds")

    def other_step() -> None:
        with writing(pg_engine) as session:
            claims.exclusive(session, claims.ARTICLES)
            order.append("other step holds")

    one = threading.Thread(target=first)
    one.start()
    assert holding.wait(10)
    two, three = threading.Thread(target=second), threading.Thread(target=other_step)
    two.start()
    three.start()
    three.join(10)
    time.sleep(0.3)
    release.set()
    one.join(10)
    two.join(10)
    assert order == ["first holds", "other step holds", "first done", "second holds"]


def test_a_frozen_workers_locks_end_with_its_idle_transaction(postgres_url: str) -> None:
    engine = open_engine(postgres_url)
    try:
        with engine.connect() as connection:
            timeout = connection.exec_driver_sql("SHOW idle_in_transaction_session_timeout")
            assert timeout.scalar() == IDLE_IN_TRANSACTION
    finally:
        engine.dispose()

    # A URL's own options win: here a frozen worker is given up on after one second.
    quick = open_engine(f"{postgres_url}?options=-c%20idle_in_transaction_session_timeout%3D1s")
    frozen = Session(quick)
    try:
        frozen.begin()
        claims.exclusive(frozen, claims.EVALUATION)
        time.sleep(1.5)  # stopped, holding the lock
        with writing(quick) as other:
            other.execute(text("SET LOCAL lock_timeout = '5s'"))
            claims.exclusive(other, claims.EVALUATION)  # free again
        with pytest.raises(DBAPIError):
            frozen.execute(select(1))
    finally:
        frozen.close()
        quick.dispose()


def test_busy_workers_are_those_whose_claims_run_on_and_whose_process_may_live(
    engine: Engine,
) -> None:
    margins = add_sources(engine, 4)
    here = socket.gethostname()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    living = f"{here}:{os.getpid()}:aaaa"
    dead = f"{here}:{gone.pid}:bbbb"  # killed mid-cycle: its claims linger, nobody stores them
    elsewhere = "other-host:1:cccc"  # cannot be checked: alive until its claims run out
    for worker in (living, dead, elsewhere):
        claim(engine, worker, margins, limit=1)
    with reading(engine) as session:
        assert claims.busy_workers(session, "me", NOW) == {living, elsewhere}
        assert claims.busy_workers(session, living, NOW) == {elsewhere}
        # Claims that have run out are nobody's work any more.
        assert claims.busy_workers(session, "me", NOW + LEASE + LEASE) == set()
