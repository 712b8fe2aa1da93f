"""Signal and config files with every kind of mistake, through the command line.

Each must stop `allywatch run` and `allywatch serve` with exit status 1 and one
clear message naming the file (and line, where there is one), before the
database is touched: an existing database keeps every byte, and none is made.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from toysignals import WIDGET_LAUNCH

from allywatch.cli import main
from allywatch.cycle import run_cycle
from allywatch.workspace import Workspace

HEAD = "id: broken\nquestion: Is it broken?\ninitial: quiet\nterms: {t: [thing*]}\n"

# name -> (file text, what the message must say, line it must name or None)
MISTAKES: dict[str, tuple[bytes | str, str, int | None]] = {
    "not-yaml": ("id: x\nquestion: q\n  initial: a\n", "not valid YAML", 3),
    "a-list": ("- id: x\n", "must be a mapping", 1),
    "no-id": ("question: q\ninitial: a\nterms: {t: [x]}\nstates:\n  b: {when: t}\n", "`id`", 1),
    "unknown-key": (HEAD + "stats:\n  b: {when: t}\n", "unknown key 'stats'", 5),
    "duplicate-id": (WIDGET_LAUNCH, "signal id 'widget-launch' is also used by", None),
    "duplicate-key": (HEAD + "terms: {u: [y]}\nstates:\n  b: {when: t}\n", "duplicate key", 5),
    "unknown-term": (HEAD + "states:\n  b: {when: t and plane}\n", "unknown term list", 6),
    "bad-condition": (HEAD + "states:\n  b: {when: 't and (t'}\n", "expected ')'", 6),
    "no-condition": (HEAD + "states:\n  b: {min_sources: 1}\n", "missing `when`", 6),
    "bad-duration": (
        HEAD + "states:\n  b: {when: t, min_sources: 2, within: 14 days}\n",
        "expected a duration",
        6,
    ),
    "bad-count": (HEAD + "states:\n  b: {when: t, min_sources: -1}\n", "min_sources", 6),
    "yaml-boolean": (HEAD.replace("quiet", "no") + "states:\n  b: {when: t}\n", "`initial`", 3),
    "empty-terms": (
        HEAD.replace("[thing*]", "[]") + "states:\n  b: {when: t}\n",
        "term list 't': expected a non-empty list",
        4,
    ),
    "bad-test": (
        HEAD + "states:\n  b: {when: t}\ntests:\n  - text: x\n    expect: nope\n",
        "`expect` must be one of",
        8,
    ),
    "not-utf8": ("id: x\nquestion: caf\u00e9\n".encode("latin-1"), "not UTF-8", 1),
}


def write_world(folder: Path, signals: list[str]) -> Path:
    (folder / "good").mkdir(exist_ok=True)
    (folder / "good" / "widget.yaml").write_text(WIDGET_LAUNCH, encoding="utf-8")
    config = folder / "allywatch.yaml"
    config.write_text(
        f"database: sqlite:///watch.db\nsignals: {signals}\nsources: []\n", encoding="utf-8"
    )
    return config


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def fingerprint(folder: Path) -> dict[str, str]:
    """The bytes of every database file in `folder` (watch.db and any -wal or -shm)."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.glob("watch.db*"))
    }


@pytest.fixture
def existing_database(tmp_path: Path) -> Path:
    """A folder whose database has seen one good run."""
    workspace = Workspace.open(write_world(tmp_path, ["good"]))
    run_cycle(workspace)
    workspace.engine.dispose()  # closed: the write-ahead log is folded into the file
    assert list(fingerprint(tmp_path)) == ["watch.db"]
    return tmp_path


@pytest.mark.parametrize("command", ["run", "serve"])
@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_bad_signal_file_stops_the_command_before_the_database(
    existing_database: Path, mistake: str, command: str
) -> None:
    text, says, line = MISTAKES[mistake]
    (existing_database / "bad").mkdir()
    bad = existing_database / "bad" / f"{mistake}.yaml"
    if isinstance(text, bytes):
        bad.write_bytes(text)
    else:
        bad.write_text(text, encoding="utf-8")
    config = write_world(existing_database, ["good", "bad"])
    before = fingerprint(existing_database)

    code, output = cli(config, command)

    assert code == 1, output
    assert output.startswith("allywatch: invalid signal files:")
    assert f"{bad}:{line}: " in output if line else str(bad) in output
    assert says in output
    assert "Traceback" not in output
    assert fingerprint(existing_database) == before


@pytest.mark.parametrize("command", ["run", "serve"])
def test_no_database_is_made_when_the_signals_are_bad(tmp_path: Path, command: str) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.yaml").write_text(HEAD + "states:\n  b: {when: nope}\n", "utf-8")
    code, output = cli(write_world(tmp_path, ["good", "bad"]), command)
    assert code == 1 and "unknown term list 'nope'" in output
    assert fingerprint(tmp_path) == {}


@pytest.mark.parametrize("command", ["run", "serve"])
def test_a_missing_signal_folder_is_named(tmp_path: Path, command: str) -> None:
    code, output = cli(write_world(tmp_path, ["good", "gone"]), command)
    assert code == 1
    assert f"{tmp_path / 'gone'}" in output and "no such file or folder" in output
    assert fingerprint(tmp_path) == {}


@pytest.mark.parametrize("command", ["run", "serve"])
def test_a_broken_config_leaves_the_database_alone(existing_database: Path, command: str) -> None:
    config = existing_database / "allywatch.yaml"
    config.write_text(
        config.read_text(encoding="utf-8") + "poll_interval: often\n", encoding="utf-8"
    )
    before = fingerprint(existing_database)
    code, output = cli(config, command)
    assert code == 1
    assert f"{config}: invalid config:" in output and "poll_interval" in output
    assert fingerprint(existing_database) == before


def test_a_database_folder_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    config = write_world(tmp_path, ["good"])
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "sqlite:///watch.db", f"sqlite:///{tmp_path}/no/such/dir/watch.db"
        ),
        encoding="utf-8",
    )
    code, output = cli(config, "run")
    assert code == 1
    assert output.startswith(f"allywatch: database sqlite:///{tmp_path}/no/such/dir/watch.db:")
    assert "cannot open" in output


def test_an_unknown_database_kind_is_a_clear_error(tmp_path: Path) -> None:
    config = write_world(tmp_path, ["good"])
    config.write_text(
        config.read_text(encoding="utf-8").replace("sqlite:///watch.db", "nosuchdb://host/db"),
        encoding="utf-8",
    )
    code, output = cli(config, "run")
    assert code == 1
    assert output.startswith("allywatch: database nosuchdb://host/db:")
