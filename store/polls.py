"""Polls: where a changed interval moves a source's next poll (`configured_next_poll`, for
the full cycle's queries.reschedule and the quiet cycle's check alike), and what a quiet
cycle (allywatch/quiet_cycle.py) writes, as SQL text run with sqlite3: each poll that
brought nothing new, and the run.

These are the rows the full cycle leaves for such a cycle through the ORM (its run:
queries.start_run and finish_run; each source: claimed and released, store/claims.py,
its fetch recorded, queries.record_fetch_success); tests/test_quiet_path.py runs both
ways on copies of one database and compares every table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from allywatch.store.reads import as_reader

if TYPE_CHECKING:
    from allywatch.store.reads import Database


class Scheduled(Protocol):
    """A source's schedule: store.models.Source or store.reads.SourceRecord."""

    @property
    def consecutive_failures(self) -> int: ...

    @property
    def last_success_at(self) -> datetime | None: ...

    @property
    def next_poll_at(self) -> datetime | None: ...


def configured_next_poll(source: Scheduled, interval: timedelta) -> datetime | None:
    """The next poll a healthy source's configured `interval` asks for (its last poll plus
    the interval) where the stored one is another time, so that a changed `interval:`
    takes effect at once; None where the stored one stands: a failing source keeps its
    backoff, and a source never polled or due at once has nothing to move."""
    polled, stored = source.last_success_at, source.next_poll_at
    if source.consecutive_failures or polled is None or stored is None:
        return None
    wanted = polled + interval
    return wanted if stored != wanted else None


class QuietPoll(NamedTuple):
    """A source polled without news: where it answered from, the validators to send
    next time, and when it is due again."""

    source_id: int
    location: str
    etag: str | None
    last_modified: str | None
    next_poll_at: datetime


def record_quiet_polls(db: Database, polls: Sequence[QuietPoll], now: datetime) -> bool:
    """Record each poll as a success with no new article, dropping any claim on the
    source that ran out by `now`. False when a source is claimed by a live worker after
    all: the caller rolls back and leaves the polls to the full cycle."""
    reader = as_reader(db)
    for poll in polls:
        changed = reader.changed(
            "UPDATE sources SET location = :location, etag = :etag,"
            " last_modified = :last_modified, last_success_at = :now,"
            " consecutive_failures = 0, failing_since = NULL, next_poll_at = :next_poll_at,"
            " claimed_by = NULL, claimed_until = NULL"
            " WHERE id = :source_id AND (claimed_until IS NULL OR claimed_until <= :now)",
            {**poll._asdict(), "now": now},
        )
        if changed != 1:
            return False
    return True


def record_run(db: Database, now: datetime, status: str, summary: Mapping[str, Any]) -> None:
    """A run that started and finished at `now` (SQLite: JSON is stored as its text)."""
    as_reader(db).changed(
        "INSERT INTO runs (started_at, finished_at, status, summary)"
        " VALUES (:now, :now, :status, :summary)",
        {"now": now, "status": status, "summary": json.dumps(summary)},
    )
