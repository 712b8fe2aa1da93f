"""`status`, `explain` and `history` with one million stored observations.

Builds a temporary SQLite database (the real schema, through the migrations)
holding N observations (default 1,000,000) of the built-in signals, one article
each, spread over five years, 200 outlets and every signal's entities and
states (one report in ten against). One evaluation over all of it records the
transitions and the state table, as `allywatch run` would.

Then, in a warm process, each command is timed: the database work it does
(the queries it runs), and the whole command in-process (click, config, signal
files, opening the database), next to what loading the config and signal files
alone costs (the part that does not depend on the data).

    .venv/bin/python bench/bench_state_queries.py [--observations N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from allywatch.alerts.evaluate import evaluate
from allywatch.cli import main
from allywatch.explain import explain
from allywatch.language.loader import load_signals
from allywatch.language.model import Signal
from allywatch.language.records import MatchedTerm, Observation
from allywatch.resources import builtin_dir
from allywatch.store import queries, reads
from allywatch.store.engine import open_engine, reading, writing
from allywatch.store.migrate import upgrade
from allywatch.workspace import Workspace

START = datetime(2021, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=5 * 365)
OUTLETS = [f"outlet{n}.example" for n in range(200)]
# The terms every observation matched, as the store keeps them.
EVIDENCE = json.dumps([MatchedTerm("t", "word", "title", 0, 4, "word").to_json()])


def _sqlite_time(moment: datetime) -> str:
    """How SQLAlchemy's SQLite DateTime stores a (naive UTC) time."""
    return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def populate(path: Path, signals: list[Signal], count: int, seed: int = 7) -> None:
    """Bulk-insert `count` articles with one observation each, straight through sqlite3.

    The secondary indexes are dropped while inserting and built again after
    (a sort instead of a million random B-tree inserts), exactly as the schema
    defines them.
    """
    rnd = random.Random(seed)
    pairs = [
        (signal, entity)
        for signal in signals
        if signal.aggregate is None
        for entity in (signal.entities or ("",))
    ]
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA cache_size = -200000")
    indexes = connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('articles', 'observations')"
    ).fetchall()
    for name, _sql in indexes:
        connection.execute(f'DROP INDEX "{name}"')
    moments = sorted(rnd.random() for _ in range(count))
    chunk = 50_000
    for offset in range(0, count, chunk):
        articles, observations = [], []
        for number in range(offset, min(offset + chunk, count)):
            signal, entity = rnd.choice(pairs)
            state = rnd.choice(signal.states).name
            outlet = rnd.choice(OUTLETS)
            published = _sqlite_time(START + SPAN * moments[number])
            story = f"story-{number // 3}"
            link = f"https://{outlet}/{number}"
            articles.append(
                (number + 1, f"uid-{number:08d}", link, f"{signal.id} {state} report {number}",
                 "", published, published, outlet, outlet, story)
            )  # fmt: skip
            observations.append(
                (number + 1, number + 1, signal.id, entity, state,
                 "against" if rnd.random() < 0.1 else "for", rnd.random() < 0.1,
                 EVIDENCE, published, outlet, story)
            )  # fmt: skip
        connection.executemany(
            "INSERT INTO articles (id, uid, link, title, summary, published_at, first_seen_at,"
            " source_name, outlet, story) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            articles,
        )
        connection.executemany(
            "INSERT INTO observations (id, article_id, signal, entity, state, polarity, hedged,"
            " evidence, published_at, outlet, story) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            observations,
        )
        connection.commit()
    for _name, sql in indexes:
        connection.execute(sql)
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


def add_one(session, signal: str, moment: datetime) -> None:
    article = queries.add_article(
        session,
        uid="one-more",
        link="https://outlet0.example/one-more",
        title="one more report",
        summary="",
        published_at=moment,
        first_seen_at=moment,
        source_name="outlet0.example",
        outlet="outlet0.example",
        story="one-more",
    )
    queries.add_observations(session, article, [Observation(signal, None, "deal")])


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and worst wall time in milliseconds, after one warm-up call."""
    action()
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        runs.append((time.perf_counter() - began) * 1000)
    return statistics.median(runs), max(runs)


def status_queries(engine, signals: list[Signal]) -> None:
    """What `status` asks the database."""
    with reading(engine) as session:
        reads.signal_states(session)
        for signal in signals:
            for entity in signal.entities or ("",):
                reads.latest_evidence(session, signal.id, entity)
        reads.list_sources(session, [])
        reads.list_alerts(session, unacked=True, limit=20)


def explain_in(
    engine, signal: Signal, entity: str | None = None, members: Signal | None = None
) -> None:
    with reading(engine) as session:
        explain(session, signal, entity, members)


def history_queries(engine, signal_id: str) -> None:
    with reading(engine) as session:
        queries.transitions_for(session, signal_id)


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    signals = load_signals([builtin_dir("signals")], builtin=builtin_dir("signals"))
    by_id = {s.id: s for s in signals}
    csto = by_id["csto-summit-attendance"]
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "watch.db"
        engine = open_engine(f"sqlite:///{db}")
        upgrade(engine)
        began = time.perf_counter()
        populate(db, signals, args.observations)
        print(f"inserted {args.observations:,} observations: {time.perf_counter() - began:.1f} s")
        end = START + SPAN
        for label in ("first evaluation (replays everything)", "next evaluation, nothing new"):
            began = time.perf_counter()
            with writing(engine) as session:
                raised = evaluate(session, signals, end)
            print(f"{label}: {time.perf_counter() - began:.1f} s, {len(raised)} transitions")
        with writing(engine) as session:
            add_one(session, "su35-iran", end)
        began = time.perf_counter()
        with writing(engine) as session:
            evaluate(session, signals, end)
        print(f"after one new su35-iran observation: {time.perf_counter() - began:.1f} s")
        config = Path(tmp) / "allywatch.yaml"
        config.write_text(f"database: sqlite:///{db}\n", encoding="utf-8")
        # The same commands on an empty database: what does not depend on the data.
        empty = Path(tmp) / "empty.yaml"
        empty.write_text(f"database: sqlite:///{Path(tmp) / 'empty.db'}\n", encoding="utf-8")
        with writing(Workspace.open(empty).engine) as session:
            evaluate(session, signals, end)

        def command(*argv: str, on: Path = config) -> None:
            result = runner.invoke(main, ["--config", str(on), *argv])
            if result.exit_code != 0:
                raise RuntimeError(result.output)

        def load_workspace() -> None:
            workspace = Workspace.open(config)
            assert workspace.signals and workspace.engine

        cases: list[tuple[str, Callable[[], object]]] = [
            ("status: database work", lambda: status_queries(engine, signals)),
            ("explain su35-iran: database work", lambda: explain_in(engine, by_id["su35-iran"])),
            ("explain csto Armenia: database work", lambda: explain_in(engine, csto, "Armenia")),
            (
                "explain csto-members-away: database work",
                lambda: explain_in(engine, by_id["csto-members-away"], None, csto),
            ),
            ("history csto: database work", lambda: history_queries(engine, csto.id)),
            ("config + signal files + open database", load_workspace),
        ]
        for argv in (("status",), ("explain", csto.id, "Armenia"), ("history", csto.id)):
            name = " ".join(argv).replace("csto-summit-attendance", "csto")
            cases.append((f"allywatch {name}", lambda argv=argv: command(*argv)))
            cases.append(("  same, empty database", lambda argv=argv: command(*argv, on=empty)))
        print(f"\n{'':42} {'median':>9} {'worst':>9}   ({args.repeat} warm runs each)")
        for name, action in cases:
            median, worst = timed(action, args.repeat)
            print(f"{name:42} {median:7.1f}ms {worst:7.1f}ms")
        engine.dispose()


if __name__ == "__main__":
    main_bench()
