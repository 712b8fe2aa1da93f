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
from datetime import timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer, serve_feeds  # noqa: F401 (the feed_server fixture)
from newsworld import NewsWorld, moment_arg, snapshot
from procs import allywatch, start_allywatch
from smtpserver import SmtpServer, serve_smtp  # noqa: F401 (the smtp_server fixture)
from sqlalchemy import select

from store.engine import open_engine, reading
from store.models import Delivery, Subscriber

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


class Killer:
    """Starts runs and SIGKILLs them at a random point of a run's usual course.

    A quarter of the kills land in start-up (imports, migrating, taking the
    lock, recording the run), the rest once the cycle is at work (polling,
    storing, evaluating, sending digests), where there is most to break.
    """

    def __init__(self, config: Path, rng: random.Random) -> None:
        self.config, self.rng = config, rng
        self.startup, self.span = 1.0, 1.5  # seconds: first poll and end of a whole run
        self.landed = 0  # kills that hit a live process
        self.missed = 0  # runs that had finished before their kill came

    def learn(self, startup: float, span: float) -> None:
        self.startup, self.span = startup, span

    def attempt(self, moment: str) -> None:
        process = start_allywatch(self.config, "run", "--now", moment)
        if self.rng.random() < 0.25:
            delay = self.rng.uniform(0.05, self.startup)
        else:
            delay = self.rng.uniform(self.startup, 1.1 * self.span)
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            self.landed += 1
        else:
            self.missed += 1
        process.communicate()


def timed_run(config: Path, moment: str, world: NewsWorld) -> tuple[float, float]:
    """Run to the end; seconds until its first poll (or its end) and until its end."""
    seen, started = world.requests, time.monotonic()
    process = start_allywatch(config, "run", "--now", moment)
    first = None
    while process.poll() is None:
        if first is None and world.requests > seen:
            first = time.monotonic() - started
        time.sleep(0.005)
    total = time.monotonic() - started
    out, err = process.communicate()
    assert process.returncode == 0, err
    return first or total, total


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
        killer = Killer(killed, rng)
        per_moment = -(-KILLS // len(world.moments))
        for moment in world.moments:
            world.clock = moment
            killer.learn(*timed_run(reference, moment_arg(moment), world))
            # Runs come every few minutes, as from cron, so each has sources to poll
            # again; each is killed, until `per_moment` kills have landed.
            attempts = 0
            target = killer.landed + per_moment
            while killer.landed < target:
                attempts += 1
                assert attempts <= 5 * per_moment, "the runs keep finishing before their kill"
                killer.attempt(moment_arg(moment + attempts * ATTEMPT_EVERY))
            # Then one runs to its end, once what the killed runs had claimed has lapsed.
            survivor = moment + attempts * ATTEMPT_EVERY + CLAIMS_LAPSE
            finished = allywatch(killed, "run", "--now", moment_arg(survivor))
            assert finished.returncode == 0, finished.stderr
    finally:
        reference_smtp.stop()

    assert killer.landed >= KILLS
    database = tmp_path / "killed" / "watch.db"
    with sqlite3.connect(database) as db:
        mid_cycle = db.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]
    print(
        f"kills landed: {killer.landed} ({mid_cycle} after the cycle had begun),"
        f" runs finished before their kill: {killer.missed}"
    )
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
