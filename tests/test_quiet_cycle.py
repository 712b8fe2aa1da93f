"""A cycle that stores nothing new, with no timer due and the signal files as a checked
load left them, decides so from the signals' cached outlines and does not load the
signal files; a due timer, new evidence or an edited file has them loaded, and every
cycle records what evaluating the loaded signals records."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from allywatch.cli import main
from allywatch.cycle import run_cycle
from allywatch.cycle_plan import CycleReport
from allywatch.resources import builtin_dir
from allywatch.store import queries
from allywatch.store.engine import reading
from allywatch.workspace import Workspace

FEEDS = Path(__file__).resolve().parent.parent / "examples" / "feeds"
T0 = datetime(2025, 9, 10, tzinfo=UTC)
# After T0's baseline Kazakhstan is absent from the CSTO summit until 2025-12-06.
TIMER_DUE = datetime(2025, 12, 7, tzinfo=UTC)
State = tuple[str, str, str]


def write_config(folder: Path, database: str) -> Path:
    """A config over the sample feeds, reading its own copy of the built-in signals."""
    shutil.copytree(builtin_dir("signals"), folder / "signals")
    sources = "".join(f"  - {{name: {f.stem}, path: '{f}'}}\n" for f in sorted(FEEDS.glob("*.xml")))
    path = folder / "allywatch.yaml"
    path.write_text(f"database: {database}\nsignals: [signals]\nsources:\n{sources}", "utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    return write_config(tmp_path, database_url)


def cycle(config: Path, now: datetime, *, loaded: bool = False) -> tuple[CycleReport, bool]:
    """A cycle in a fresh workspace polling every source, as `run --now` from cron does;
    whether it loaded the signal files. `loaded`: load them before it starts."""
    workspace = Workspace.open(config)
    if loaded:
        workspace.signals  # noqa: B018
    names = {s.name for s in workspace.config.sources}
    try:
        report = run_cycle(workspace, now, poll=names, send=False)
    finally:
        workspace.engine.dispose()
    return report, "signals" in vars(workspace)


def states(config: Path) -> list[State]:
    workspace = Workspace.open(config)
    with reading(workspace.engine) as session:
        rows = [(s.signal, s.entity, s.state) for s in queries.signal_states(session)]
    workspace.engine.dispose()
    return sorted(rows)


def transitions(config: Path) -> list[tuple[str, str, str, str, datetime]]:
    workspace = Workspace.open(config)
    with reading(workspace.engine) as session:
        found = [
            (t.signal, t.entity, t.from_state, t.to_state, t.at)
            for s in workspace.outlines
            for t in queries.transitions_for(session, s.id)
        ]
    workspace.engine.dispose()
    return sorted(found)


def test_a_quiet_cycle_does_not_load_the_signal_files(config: Path) -> None:
    first, loaded = cycle(config, T0)
    assert first.new_articles and loaded
    before = states(config)
    quiet, loaded = cycle(config, T0 + timedelta(minutes=5))
    assert quiet.polled and not quiet.new_articles and not quiet.alerts
    assert not loaded
    assert states(config) == before


def test_a_due_timer_loads_the_signals_and_records_its_change(config: Path) -> None:
    cycle(config, T0)
    assert ("csto-summit-attendance", "Kazakhstan", "absent") in states(config)
    report, loaded = cycle(config, TIMER_DUE)
    assert loaded and not report.new_articles
    assert ("csto-summit-attendance", "Kazakhstan", "attending") in states(config)


def test_an_edited_signal_file_is_evaluated_again(config: Path) -> None:
    cycle(config, T0)
    assert ("su35-iran", "", "delivered") in states(config)
    su35 = config.parent / "signals" / "su35-iran.yaml"
    text = su35.read_text(encoding="utf-8")
    stricter = {  # delivered: nine outlets, with or without an official confirmation
        "min_sources: 2\n    within: 14d\n    # Or": "min_sources: 9\n    within: 14d\n    # Or",
        "corroboration: {min_sources: 3,": "corroboration: {min_sources: 9,",
    }
    for old, new in stricter.items():
        assert old in text
        text = text.replace(old, new)
    su35.write_text(text, "utf-8")
    _, loaded = cycle(config, T0 + timedelta(minutes=5))
    assert loaded
    assert ("su35-iran", "", "delivery-reported") in states(config)


def test_a_signal_file_broken_after_a_quiet_cycle_stops_the_next(config: Path) -> None:
    cycle(config, T0)
    cycle(config, T0 + timedelta(minutes=5))
    su35 = config.parent / "signals" / "su35-iran.yaml"
    su35.write_text(su35.read_text("utf-8").replace("initial: none", "initial: nowhere"), "utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "run", "--now"])
    assert result.exit_code == 1
    assert "invalid signal files" in result.output and "su35-iran.yaml" in result.output


def test_cycles_from_outlines_record_what_cycles_over_loaded_signals_record(
    config: Path, tmp_path: Path
) -> None:
    loaded_first = write_config(tmp_path / "loaded", f"sqlite:///{tmp_path / 'loaded.db'}")
    moments = [T0, T0 + timedelta(minutes=5), TIMER_DUE, TIMER_DUE + timedelta(days=400)]
    for now in moments:
        cycle(config, now)
        cycle(loaded_first, now, loaded=True)
    assert states(config) == states(loaded_first)
    assert transitions(config) == transitions(loaded_first)
