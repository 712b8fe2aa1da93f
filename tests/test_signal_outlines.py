"""`status` lists each signal's rows from its outline (id, entities, initial state),
kept in a cache while nothing the signal loader reads has changed: what it prints is
what a full load of the signal files gives, before and after they are edited, and a
file broken after the cache was written is still reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from allywatch.cli import main
from allywatch.resources import builtin_dir

CSTO = "csto-summit-attendance"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config reading its own copy of the built-in signals; the cache in tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    shutil.copytree(builtin_dir("signals"), tmp_path / "signals")
    path = tmp_path / "allywatch.yaml"
    path.write_text("database: sqlite:///watch.db\nsignals: [signals]\n", encoding="utf-8")
    return path


def status(config: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), "status", "--json"])
    return result.exit_code, result.output


def rows(config: Path) -> dict[tuple[str, str | None], str]:
    code, output = status(config)
    assert code == 0, output
    return {(r["signal"], r["entity"]): r["state"] for r in json.loads(output)}


def edit(file: Path, old: str, new: str) -> None:
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_cached_status_prints_what_loading_the_signals_prints(config: Path) -> None:
    first = status(config)
    assert list((config.parent / "cache" / "allywatch").glob("*.json")), "no cache written"
    assert status(config) == first
    assert rows(config)[(CSTO, "Armenia")] == "attending"


def test_an_edited_signal_file_shows_at_once(config: Path) -> None:
    rows(config)
    signals = config.parent / "signals"
    edit(signals / "su35-iran.yaml", "id: su35-iran\n", "id: su35-iran-deliveries\n")
    seen = rows(config)
    assert ("su35-iran-deliveries", None) in seen and ("su35-iran", None) not in seen
    shutil.rmtree(config.parent / "cache")
    assert rows(config) == seen  # the same as a full load with no cache at all


def test_a_signal_file_broken_after_a_cached_status_is_reported(config: Path) -> None:
    rows(config)
    edit(config.parent / "signals" / "su35-iran.yaml", "initial: none", "initial: nowhere")
    code, output = status(config)
    assert code == 1
    assert "invalid signal files" in output and "su35-iran.yaml" in output


def test_status_works_where_no_cache_can_be_written(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = rows(config)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert rows(config) == expected
    assert rows(config) == expected
