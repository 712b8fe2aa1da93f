"""The database lease that keeps runs from overlapping: refused, waited for, expired, taken over."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from allywatch.runlock import CYCLE, LockBusy, RunLock
from allywatch.store import locks
from allywatch.store.engine import open_engine, writing
from allywatch.store.migrate import upgrade
from allywatch.store.reads import current_sqlite_file


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def plant(
    engine: Engine, *, host: str, pid: int, expires_in: timedelta, started: str = "1"
) -> None:
    """A lease left by some other process."""
    now = datetime.now(UTC)
    with writing(engine) as session:
        locks.acquire(
            session,
            CYCLE,
            holder=f"{host}:{pid}:{started}:x",
            pid=pid,
            host=host,
            now=now,
            expires_at=now + expires_in,
        )


def test_a_second_holder_is_refused_with_who_holds_it(engine: Engine) -> None:
    first = RunLock(engine, CYCLE).acquire()
    with pytest.raises(LockBusy) as refused:
        RunLock(engine, CYCLE).acquire()
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message
    assert "another run is running on this database" in message
    first.release()
    RunLock(engine, CYCLE).acquire().release()


def test_a_waiting_holder_gets_the_lease_once_it_is_released(engine: Engine) -> None:
    first = RunLock(engine, CYCLE).acquire()
    threading.Timer(0.5, first.release).start()
    started = time.monotonic()
    with RunLock(engine, CYCLE).acquire(wait=10):
        waited = time.monotonic() - started
    assert 0.3 < waited < 10


def test_waiting_is_bounded(engine: Engine) -> None:
    with RunLock(engine, CYCLE).acquire():
        started = time.monotonic()
        with pytest.raises(LockBusy):
            RunLock(engine, CYCLE).acquire(wait=0.6)
        assert time.monotonic() - started >= 0.6


def test_a_lease_from_another_host_holds_until_it_expires(engine: Engine) -> None:
    plant(engine, host="elsewhere.example", pid=1, expires_in=timedelta(minutes=1))
    with pytest.raises(LockBusy, match="pid 1 on elsewhere.example"):
        RunLock(engine, CYCLE).acquire()
    plant(engine, host="elsewhere.example", pid=1, expires_in=timedelta(seconds=-1))
    lock = RunLock(engine, CYCLE).acquire()
    with writing(engine) as session:
        assert locks.current(session, CYCLE).holder == lock.holder
    lock.release()


def test_a_killed_holder_on_this_host_is_taken_over_at_once(engine: Engine) -> None:
    script = (
        "import sys, time\n"
        "from allywatch.runlock import RunLock\n"
        "from store.engine import open_engine\n"
        "RunLock(open_engine(sys.argv[1]), 'cycle').acquire()\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, engine.url.render_as_string(hide_password=False)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy, match=f"pid {child.pid}"):
            RunLock(engine, CYCLE).acquire()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    RunLock(engine, CYCLE).acquire().release()


def test_the_heartbeat_keeps_a_short_lease_alive(engine: Engine) -> None:
    lock = RunLock(engine, CYCLE, ttl=timedelta(seconds=0.8))
    lock.acquire()
    time.sleep(2.0)
    other = RunLock(engine, CYCLE)
    other.host = "elsewhere.example"  # not this host: only expiry could free the lease
    with pytest.raises(LockBusy):
        other.acquire()
    lock.release()
    other.acquire().release()


def test_a_holder_notices_when_its_lease_was_taken_over(engine: Engine) -> None:
    lock = RunLock(engine, CYCLE, ttl=timedelta(seconds=0.4))
    lock.acquire()
    with writing(engine) as session:
        session.execute(text("UPDATE locks SET holder = 'thief'"))
    assert lock.lost.wait(2)
    lock.release()
    with writing(engine) as session:
        assert locks.current(session, CYCLE).holder == "thief"


def test_a_lease_of_an_earlier_process_with_the_same_pid_is_taken_over(engine: Engine) -> None:
    # A restarted container's process 1 finds the lease of the process 1 before it.
    host = socket.gethostname()
    plant(engine, host=host, pid=os.getpid(), expires_in=timedelta(minutes=1), started="1")
    RunLock(engine, CYCLE).acquire().release()


def test_the_lease_taken_with_sqlite3_alone_is_the_engines_lease(
    engine: Engine, database_url: str
) -> None:
    """A quiet cycle takes its turn on an SQLite file without SQLAlchemy: the same lease
    row, refused and taken over as the engine's."""
    path = current_sqlite_file(database_url)
    if path is None:
        pytest.skip("an SQLite file's lease")
    light = RunLock(path, CYCLE).acquire()
    with pytest.raises(LockBusy, match="another run is running on this database"):
        RunLock(engine, CYCLE).acquire()
    with writing(engine) as session:
        assert locks.current(session, CYCLE).holder == light.holder
    light.release()
    held = RunLock(engine, CYCLE).acquire()
    with pytest.raises(LockBusy, match=f"pid {os.getpid()}"):
        RunLock(path, CYCLE).acquire(wait=0.3)
    held.release()
    plant(engine, host="elsewhere.example", pid=1, expires_in=timedelta(seconds=-1))
    RunLock(path, CYCLE).acquire().release()  # an expired lease is taken over
    with writing(engine) as session:
        assert locks.current(session, CYCLE) is None
