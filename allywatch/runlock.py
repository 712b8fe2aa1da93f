"""One holder at a time per database: a lease row, renewed by a heartbeat thread.

`allywatch run` and each tick of `allywatch serve` hold the "cycle" lease while
they run a cycle, so overlapping cron runs queue instead of doing the same work
twice; `allywatch serve` also holds the "serve" lease for as long as it runs,
so a second one refuses to start. The lease lives in the database itself (not a
lock file), so it holds across hosts and on PostgreSQL. A holder that is killed
stops renewing and its lease expires after `ttl`; one whose process is gone
from this host is taken over at once.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from allywatch.store import locks
from allywatch.store.engine import is_locked, sqlite_file, writing
from allywatch.store.file_locks import write_lock_holders
from allywatch.store.locks import LeaseRecord
from allywatch.store.reads import sqlite_writing

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from allywatch.store.reads import Database

CYCLE = "cycle"
SERVE = "serve"
DEFAULT_TTL = timedelta(minutes=2)
POLL_SECONDS = 0.25
# The least time one try waits for the database's own lock, however little of the wait
# is left: a lock held for a moment (another run writing a row) is no reason to give up.
MIN_BUSY_SECONDS = 0.5

log = logging.getLogger("allywatch.runlock")

_WHAT = {CYCLE: "run", SERVE: "`allywatch serve`"}


class LockBusy(Exception):
    """Someone else holds the lease, or another program holds the database's own lock;
    the message says who (and since when) as far as that is known."""

    @classmethod
    def held(cls, name: str, lease: LeaseRecord) -> LockBusy:
        return cls(
            f"another {_WHAT.get(name, name)} is running on this database"
            f" (pid {lease.pid} on {lease.host}, since {lease.acquired_at:%Y-%m-%d %H:%M:%S} UTC)"
        )

    @classmethod
    def locked(cls, database: Path | None) -> LockBusy:
        """The database (its SQLite file, None for another) held locked by another program."""
        holders = write_lock_holders(database) if database is not None else []
        who = f" ({', '.join(holders)})" if holders else ""
        return cls(f"the database is locked by another program{who}")


class RunLock:
    """The lease `name` on a database, held from acquire() to release(). The database
    is an engine's, or an SQLite file at the newest schema revision
    (store.reads.current_sqlite_file), which is then written with sqlite3 alone."""

    def __init__(self, database: Engine | Path, name: str, *, ttl: timedelta = DEFAULT_TTL) -> None:
        if ttl <= timedelta(0):
            raise ValueError("a lease needs a positive ttl")
        self.database, self.name, self.ttl = database, name, ttl
        self.pid, self.host = os.getpid(), socket.gethostname()
        # host:pid:process start:random. The start time tells a restarted container's
        # process 1 from the process 1 that held the lease before the restart.
        self.holder = f"{self.host}:{self.pid}:{_started(self.pid)}:{uuid.uuid4().hex[:12]}"
        self.lost = threading.Event()  # set when another holder took the lease over
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def acquire(self, wait: float = 0.0) -> RunLock:
        """Take the lease, waiting up to `wait` seconds for it; raises LockBusy.

        Returns the lock itself, for `with RunLock(engine, name).acquire(wait):`.
        """
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            busy = self._try_once(max(deadline - time.monotonic(), MIN_BUSY_SECONDS))
            if busy is None:
                self._start_heartbeat()
                return self
            left = deadline - time.monotonic()
            if left <= 0:
                raise busy
            time.sleep(min(POLL_SECONDS, left))

    def release(self) -> None:
        """Stop renewing and give the lease up (a no-op if it was lost meanwhile)."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        with self._writing() as db:
            locks.release(db, self.name, self.holder)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def _try_once(self, busy_timeout: float) -> LockBusy | None:
        """None when the lease is ours now, else who is in the way: the lease's holder, or a
        program that held the database's lock for all of `busy_timeout` seconds."""
        now = datetime.now(UTC)
        lease: LeaseRecord | None
        try:
            with self._writing(busy_timeout) as db:
                lease = locks.acquire(
                    db,
                    self.name,
                    holder=self.holder,
                    pid=self.pid,
                    host=self.host,
                    now=now,
                    expires_at=now + self.ttl,
                    stale=self._is_stale,
                )
        except Exception as exc:
            if is_locked(exc):
                return LockBusy.locked(self._file())
            if not _duplicate_key(exc):
                raise
            # Another holder inserted the lease first (PostgreSQL).
            with self._writing() as db:
                lease = locks.current(db, self.name)
            if lease is None:
                return self._try_once(busy_timeout)
        return None if lease.holder == self.holder else LockBusy.held(self.name, lease)

    def _writing(self, busy_timeout: float | None = None) -> AbstractContextManager[Database]:
        """A write transaction on the database."""
        if isinstance(self.database, Path):
            return sqlite_writing(self.database, busy_timeout=busy_timeout)
        return writing(self.database, busy_timeout=busy_timeout)

    def _file(self) -> Path | None:
        return self.database if isinstance(self.database, Path) else sqlite_file(self.database)

    def _is_stale(self, lease: LeaseRecord) -> bool:
        """A lease whose process is gone from this very host is abandoned."""
        if lease.host != self.host:
            return False
        if not _process_exists(lease.pid):
            return True
        parts = lease.holder.rsplit(":", 3)
        recorded = parts[2] if len(parts) == 4 else ""
        return bool(recorded) and recorded != _started(lease.pid)

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._heartbeat = threading.Thread(
            target=self._renew_until_stopped, name=f"lease-{self.name}", daemon=True
        )
        self._heartbeat.start()

    def _renew_until_stopped(self) -> None:
        every = self.ttl.total_seconds() / 4
        while not self._stop.wait(every):
            try:
                with self._writing() as db:
                    kept = locks.renew(db, self.name, self.holder, datetime.now(UTC) + self.ttl)
            except Exception as exc:  # a busy or unreachable database: try again next beat
                log.warning("event=lease_renew_failed lease=%s error=%r", self.name, str(exc))
                continue
            if not kept:
                log.error("event=lease_lost lease=%s holder=%s", self.name, self.holder)
                self.lost.set()
                return


def cycle_turn(database: Engine | Path, wait: float = 0.0) -> AbstractContextManager[object]:
    """Held around a whole cycle. On SQLite cycles take turns (the cycle lease, waiting up
    to `wait` seconds, else LockBusy); on PostgreSQL workers run cycles side by side and
    share the work through source claims (store/claims.py), so there is no turn to take.
    `database` as RunLock takes it (a Path is an SQLite file)."""
    if not isinstance(database, Path):
        from allywatch.store.claims import side_by_side

        if side_by_side(database):
            return nullcontext()
    return RunLock(database, CYCLE).acquire(wait)


def _duplicate_key(exc: Exception) -> bool:
    """Whether a write failed on a key another transaction inserted meanwhile."""
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    from sqlalchemy.exc import IntegrityError  # only an engine raises it, SQLAlchemy loaded

    return isinstance(exc, IntegrityError)


def _started(pid: int) -> str:
    """When process `pid` started, in clock ticks since boot (Linux); "" where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # Fields after the command name, which is in parentheses and may hold spaces.
    return stat.rpartition(")")[2].split()[19]


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
