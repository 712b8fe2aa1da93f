"""Killing `allywatch run` with SIGKILL at random points, again and again.

A day of news at a time, the harness starts runs and kills them at random
moments (during start-up, migration, polling, storing, evaluating or sending
mail), then lets one run finish. At the end the database must hold exactly
what uninterrupted runs stored next door: every article, transition and alert
once, every subscriber's deliveries once, and pass `PRAGMA integrity_check`.
Every digest the mail server accepted must be one the database recorded.

ALLYWATCH_SLOW=1 kills at least 100 times; the default run kills about 10.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer
from newsworld import NewsWorld, moment_arg, snapshot
from procs import allywatch, start_allywatch
from smtpserver import SmtpServer
from sqlalchemy import select

from allywatch.store.engine import open_engine, reading
from allywatch.store.models import Delivery, Subscriber

SLOW = os.environ.get("ALLYWATCH_SLOW") == "1"
KILLS = 100 if SLOW else 10
ATTEMPT_EVERY = timedelta(minutes=7)  # more than a source's interval and its claim
CLAIMS_LAPSE = timedelta(minutes=11)  # a killed run's claims on sources and digests
SUBSCRIBERS = [
    ("now@example.org", ["--cadence", "immediate"]),
    ("jets@example.org", ["--cadence", "immediate", "--signals", "su35-iran"]),
    ("daily@example.org", ["--cadence", "daily", "--time", "07:00"]),
]


@pytest.fixture
def world(feed_server: FeedServer) -> Iterator[NewsWorld]:
    yield NewsWorld(feed_server)


def subscribe(config: Path) -> None:
    for email, options in SUBSCRIBERS:
        result = allywatch(config, "subscribers", "add", email, *options)
        assert result.returncode == 0, result.stderr


def integrity(database: Path) -> tuple[str, list]:
    with sqlite3.connect(database) as db:
        return (
            db.execute("PRAGMA integrity_check").fetchone()[0],
            db.execute("PRAGMA foreign_key_check").fetchall(),
        )


def recorded_messages(database: Path) -> dict[str, set[str]]:
    """Message-IDs the database says were delivered, by recipient."""
    engine = open_engine(f"sqlite:///{database}")
    with reading(engine) as session:
        email = dict(session.execute(select(Subscriber.id, Subscriber.email)).all())
        out: dict[str, set[str]] = {}
        for delivery in session.scalars(select(Delivery)):
            out.setdefault(email[delivery.subscriber_id], set()).add(delivery.message_id)
    engine.dispose()
    return out


def received_messages(smtp: SmtpServer) -> Counter[tuple[str, str]]:
    """(recipient, Message-ID) of every message the server accepted, with repeats counted."""
    with smtp.lock:
        return Counter(
            (rcpt, str(message["Message-ID"]))
            for message, (_from, rcpts) in zip(smtp.messages, smtp.envelopes, strict=True)
            for rcpt in rcpts
        )


def last_run(database: Path) -> tuple[int, str] | None:
    """(id, status) of the newest cycle recorded in `database`, if any."""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            return db.execute("SELECT id, status FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.Error:  # not made yet, or not migrated yet
        return None


@dataclass
class Course:
    """When things happen in an uninterrupted run, in seconds from its start."""

    polled: float  # its first poll: start-up is over
    evaluated: float  # its cycle is recorded as finished: only digests and exit remain
    ended: float


def timed_run(config: Path, moment: str, world: NewsWorld) -> Course:
    """Run to the end, watching its course."""
    database = config.parent / "watch.db"
    before, seen, started = last_run(database), world.requests, time.monotonic()
    process = start_allywatch(config, "run", "--clock", moment)
    polled = evaluated = None
    while process.poll() is None:
        now = time.monotonic() - started
        if polled is None and world.requests > seen:
            polled = now
        if evaluated is None and (run := last_run(database)) != before and run[1] != "running":
            evaluated = now
        time.sleep(0.003)
    ended = time.monotonic() - started
    _out, err = process.communicate()
    assert process.returncode == 0, err
    polled = polled or ended
    return Course(polled, max(evaluated or ended, polled), ended)


class Killer:
    """Starts runs and SIGKILLs them at random points of a run's course.

    A fifth of the kills land in start-up (imports, migrating, taking the lock),
    three fifths after the first poll while the cycle is at work (polling,
    storing, evaluating), the last fifth while digests are sent and the process
    exits. Each kill is filed by what the database shows afterwards.
    """

    def __init__(self, config: Path, world: NewsWorld, rng: random.Random) -> None:
        self.config, self.world, self.rng = config, world, rng
        self.course = Course(1.0, 1.2, 1.5)
        self.landed: Counter[str] = Counter()  # kills that hit a live process, by phase
        self.missed = 0  # runs that had finished before their kill came

    def attempt(self, moment: str) -> None:
        database, course = self.config.parent / "watch.db", self.course
        before, seen = last_run(database), self.world.requests
        process = start_allywatch(self.config, "run", "--clock", moment)
        phase = self.rng.random()
        if phase < 0.2:
            time.sleep(self.rng.uniform(0.05, course.polled))
        else:
            give_up = time.monotonic() + 3 * course.polled
            while self.world.requests == seen and process.poll() is None:
                if time.monotonic() > give_up:
                    break
                time.sleep(0.002)
            work = course.evaluated - course.polled
            if phase < 0.8:
                time.sleep(self.rng.uniform(0, work))
            else:
                time.sleep(self.rng.uniform(work, course.ended - course.polled))
        if process.poll() is not None:
            self.missed += 1
            process.communicate()
            return
        process.send_signal(signal.SIGKILL)
        process.communicate()
        after = last_run(database)
        if after == before:
            self.landed["before the cycle began"] += 1
        elif after is not None and after[1] == "running":
            self.landed["mid-cycle"] += 1
        else:
            self.landed["after evaluation (digests, exit)"] += 1

    @property
    def kills(self) -> int:
        return sum(self.landed.values())


@pytest.mark.slow
def test_runs_killed_at_random_points_lose_and_repeat_nothing(
    world: NewsWorld, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    reference_smtp = SmtpServer()
    reference_smtp.start()
    try:
        reference = world.config(tmp_path / "reference", smtp_port=reference_smtp.port)
        subscribe(reference)
        killed = world.config(tmp_path / "killed", smtp_port=smtp_server.port, poll_interval="5m")
        subscribe(killed)

        rng = random.Random(int(os.environ.get("ALLYWATCH_CRASH_SEED", "20250106")))
        killer = Killer(killed, world, rng)
        per_moment = -(-KILLS // len(world.moments))
        for moment in world.moments:
            world.clock = moment
            killer.course = timed_run(reference, moment_arg(moment), world)
            # Runs come every few minutes, as from cron, so each has sources to poll
            # again; each is killed, until `per_moment` kills have landed.
            attempts = 0
            target = killer.kills + per_moment
            while killer.kills < target:
                attempts += 1
                assert attempts <= 5 * per_moment, "the runs keep finishing before their kill"
                killer.attempt(moment_arg(moment + attempts * ATTEMPT_EVERY))
            # Then one runs to its end, once what the killed runs had claimed has lapsed.
            survivor = moment + attempts * ATTEMPT_EVERY + CLAIMS_LAPSE
            finished = allywatch(killed, "run", "--clock", moment_arg(survivor))
            assert finished.returncode == 0, finished.stderr
    finally:
        reference_smtp.stop()

    assert killer.kills >= KILLS
    print(
        f"kills landed: {killer.kills} ({dict(killer.landed)});"
        f" runs that finished before their kill: {killer.missed}"
    )
    database = tmp_path / "killed" / "watch.db"
    expected = snapshot(tmp_path / "reference" / "watch.db")
    assert expected["alerts"] and expected["deliveries"], "the world raised nothing to check"
    assert integrity(database) == ("ok", [])
    assert snapshot(database) == expected

    # Every digest the server accepted is one the database recorded, and the other way round.
    received = received_messages(smtp_server)
    recorded = recorded_messages(database)
    assert {(r, m) for r, m in received} == {(r, m) for r, ms in recorded.items() for m in ms}
    repeats = sum(n - 1 for n in received.values())
    print(f"digests accepted twice (same Message-ID): {repeats}")
