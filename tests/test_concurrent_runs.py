"""`allywatch run` as cron starts it: its output, and runs that overlap.

Cron mails whatever a run prints, so a run says nothing unless something
changed. Overlapping runs (four started together, or cycles with no lock at
all) must leave the database exactly as one run at a time leaves it: every
article, transition and alert once, and no "database is locked".
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from feedserver import FeedServer
from newsworld import OUTLETS, NewsWorld, moment_arg, snapshot
from procs import allywatch, start_allywatch

RUNNERS = 4
DAYS = [0, 2]  # which of the world's moments: a fresh database, then two days of news at once


@pytest.fixture
def world(feed_server: FeedServer) -> Iterator[NewsWorld]:
    yield NewsWorld(feed_server)


def moments(world: NewsWorld) -> list[datetime]:
    return [world.moments[day] for day in DAYS]


def reference(world: NewsWorld, folder: Path) -> dict:
    """The database after one run at each moment, one at a time."""
    config = world.config(folder)
    for moment in moments(world):
        world.clock = moment
        result = allywatch(config, "run", "--clock", moment_arg(moment))
        assert result.returncode == 0, result.stderr
    return snapshot(folder / "watch.db")


def together(commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    processes = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in commands
    ]
    finished = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        finished.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return finished


@pytest.mark.slow
def test_four_runs_started_together_take_turns(
    world: NewsWorld, tmp_path: Path, database_url: str
) -> None:
    expected = reference(world, tmp_path / "one-at-a-time")
    assert expected["alerts"] and expected["articles"]

    # A fresh database (SQLite, or PostgreSQL where the suite is given one): the first runs
    # also migrate it.
    config = world.config(tmp_path / "together", database=database_url)
    for moment in moments(world):
        world.clock = moment
        runs = [
            start_allywatch(config, "run", "--clock", moment_arg(moment)) for _ in range(RUNNERS)
        ]
        for run in runs:
            out, err = run.communicate(timeout=180)
            assert run.returncode == 0, err
            assert "locked" not in err.lower() and "Traceback" not in err, err
    assert snapshot(database_url) == expected


@pytest.mark.slow
def test_a_run_that_cannot_get_its_turn_says_so(world: NewsWorld, tmp_path: Path) -> None:
    config = world.config(tmp_path)
    assert allywatch(config, "run").returncode == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from allywatch.runlock import RunLock\n"
            "from store.engine import open_engine\n"
            "RunLock(open_engine(sys.argv[1]), 'cycle').acquire()\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
            f"sqlite:///{tmp_path / 'watch.db'}",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = allywatch(config, "run", "--wait", "2s")
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 75  # EX_TEMPFAIL: try again later
    assert refused.stdout == ""
    assert f"another run is running on this database (pid {holder.pid}" in refused.stderr
    assert "gave up after waiting 2s" in refused.stderr
    # The holder is gone: the next run goes ahead at once.
    assert allywatch(config, "run", "--wait", "0").returncode == 0


UNLOCKED_CYCLE = """
import sys
from datetime import datetime, timedelta
from pathlib import Path
from allywatch.cycle import run_cycle
from allywatch.workspace import Workspace
workspace = Workspace.open(Path(sys.argv[1]))
run_cycle(workspace, datetime.fromisoformat(sys.argv[2]))
"""


@pytest.mark.slow
def test_without_the_lock_the_database_still_keeps_everything_once(
    world: NewsWorld, tmp_path: Path, database_url: str
) -> None:
    expected = reference(world, tmp_path / "one-at-a-time")
    config = world.config(tmp_path / "unlocked", database=database_url)
    first, *later = moments(world)
    world.clock = first
    assert allywatch(config, "run", "--clock", moment_arg(first)).returncode == 0
    for moment in later:
        world.clock = moment
        runs = together(
            [[sys.executable, "-c", UNLOCKED_CYCLE, str(config), moment.isoformat()]] * RUNNERS
        )
        for run in runs:
            assert run.returncode == 0, run.stderr
            assert "locked" not in run.stderr.lower(), run.stderr
    assert snapshot(database_url) == expected


@pytest.mark.slow
def test_a_cron_run_is_quiet_unless_something_changed(world: NewsWorld, tmp_path: Path) -> None:
    config = world.config(tmp_path)
    first, news, _ = world.moments[:3]
    world.clock = first
    baseline = allywatch(config, "run", "--clock", moment_arg(first))
    assert (baseline.returncode, baseline.stdout, baseline.stderr) == (0, "", "")

    world.clock = news
    raised = allywatch(config, "run", "--clock", moment_arg(news))
    assert raised.returncode == 0 and raised.stderr == ""
    lines = raised.stdout.splitlines()
    assert lines and all(line.startswith("ALERT [") for line in lines)
    assert any("su35-iran: none -> deal" in line for line in lines)
    assert any("Armenia" in line and "suspended" in line for line in lines)

    again = allywatch(config, "run", "--clock", moment_arg(news + timedelta(hours=1)))
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    verbose = allywatch(config, "run", "-v", "--clock", moment_arg(news + timedelta(hours=2)))
    assert verbose.returncode == 0
    assert verbose.stdout.startswith(f"polled {len(OUTLETS)} sources, 0 new articles")
