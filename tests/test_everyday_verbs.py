"""The command line as a user meets it: tables that fit the terminal (through a real
pseudo-terminal), times that name their zone, plurals, one error style, the list
formats, and the everyday verbs (alerts --signal/--since, history ENTITY, ack --all,
status --changed, subscribers edit, digest preview of someone unknown)."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import logging
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine

from allywatch.cli import main
from allywatch.output import plural
from allywatch.serve import configure_logging
from allywatch.store.migrate import migrate, upgrade

GONE = "/missing" + "/a-rather-long-folder-name" * 5 + "/feed.xml"
ERROR = f"no such file: {GONE}"
ALLYWATCH = [sys.executable, "-m", "allywatch"]


def cli(config: Path, *args: str, **env: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], env=env or None)


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Path:
    """A config with the sample feeds and one missing one, after one run that records
    the sample feeds' alerts (announced: alert_on_first_run)."""
    feeds = Path(__file__).resolve().parent.parent / "examples" / "feeds"
    config = tmp_path / "allywatch.yaml"
    config.write_text(
        f"database: '{database_url}'\nalert_on_first_run: true\nsecret: s3cret\n"
        "sources:\n"
        f"  - {{name: Eurasia Wire, path: '{feeds / 'eurasia-wire.xml'}'}}\n"
        f"  - {{name: Gulf Monitor, path: '{feeds / 'gulf-monitor.xml'}'}}\n"
        f"  - {{name: Gone, path: '{GONE}'}}\n",
        encoding="utf-8",
    )
    assert cli(config, "run").exit_code == 3  # one source failed
    return config


def run_in_pty(config: Path, columns: int, *args: str) -> str:
    """`allywatch ARGS` on a pseudo-terminal `columns` wide, as a user's shell runs it."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen(
        [*ALLYWATCH, "--config", str(config), *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            process.kill()
            raise AssertionError("allywatch did not finish")
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed: the process has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 0
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_the_feeds_table_fits_a_narrow_terminal_and_keeps_the_whole_error(world: Path) -> None:
    narrow = run_in_pty(world, 100, "feeds", "--tz", "UTC")
    lines = narrow.splitlines()
    assert lines and all(len(line) <= 100 for line in lines), narrow
    assert "LAST SUCCESS (UTC)" in lines[0]
    # The error is wrapped over several lines, every word of it kept.
    assert "".join("".join(lines).split()).find("".join(ERROR.split())) >= 0
    wide = run_in_pty(world, 300, "feeds", "--tz", "UTC")
    assert len(wide.splitlines()) == 4  # the header and one line per source
    assert ERROR in wide


def test_tables_follow_columns_and_titles_shorten_with_an_ellipsis(world: Path) -> None:
    narrow = cli(world, "status", "--tz", "UTC", COLUMNS="120").output.split("\n\n")[0]
    assert all(len(line) <= 120 for line in narrow.splitlines())
    assert "…" in narrow
    wide = cli(world, "status", "--tz", "UTC", COLUMNS="300").output.split("\n\n")[0]
    assert "…" not in wide and max(len(line) for line in wide.splitlines()) > 120


def test_times_are_shown_in_the_zone_asked_for_and_say_so(world: Path) -> None:
    utc = json.loads(cli(world, "alerts", "--json").output)[0]
    moment = datetime.fromisoformat(utc["at"])
    assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0
    table = cli(world, "alerts", "--tz", "Asia/Tokyo", COLUMNS="300").output
    assert "AT (Asia/Tokyo)" in table.splitlines()[0]
    in_tokyo = moment.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M")
    assert in_tokyo in table and moment.strftime("%Y-%m-%d %H:%M") not in table
    bad = cli(world, "alerts", "--tz", "Mars/Olympus")
    assert bad.exit_code == 2 and "allywatch: Invalid value for '--tz'" in bad.output


def test_feeds_json_names_the_error_time_and_message_apart(world: Path) -> None:
    feeds = {f["name"]: f for f in json.loads(cli(world, "feeds", "--json").output)}
    gone = feeds["Gone"]
    assert gone["last_error"] == ERROR and gone["error_kind"] == "not-found"
    assert datetime.fromisoformat(gone["last_error_at"]).tzinfo is not None
    assert "error" not in gone and feeds["Eurasia Wire"]["last_success_at"]


def test_lists_print_as_json_ndjson_and_csv(world: Path) -> None:
    as_json = json.loads(cli(world, "alerts", "--format", "json").output)
    assert json.loads(cli(world, "alerts", "--json").output) == as_json
    lines = cli(world, "alerts", "--format", "ndjson").output.splitlines()
    assert [json.loads(line) for line in lines] == as_json
    rows = list(csv.DictReader(io.StringIO(cli(world, "alerts", "--format", "csv").output)))
    assert [int(r["id"]) for r in rows] == [a["id"] for a in as_json]
    assert json.loads(rows[0]["evidence"]) == as_json[0]["evidence"]
    for command in (["status"], ["feeds"], ["history", "su35-iran"], ["subscribers", "list"]):
        result = cli(world, *command, "--format", "csv")
        assert result.exit_code == 0, (command, result.output)
        assert result.output.splitlines()[0].count(",") >= 2
    atom = cli(world, "alerts", "--format", "atom").output
    assert atom.startswith("<?xml")


def test_alerts_by_signal_and_since_history_of_one_entity(world: Path) -> None:
    every = json.loads(cli(world, "alerts", "--json").output)
    su35 = json.loads(cli(world, "alerts", "--json", "--signal", "su35-iran").output)
    assert su35 and {a["signal"] for a in su35} == {"su35-iran"} and len(su35) < len(every)
    assert json.loads(cli(world, "alerts", "--json", "--since", "1d").output) == every  # raised now
    assert cli(world, "alerts", "--since", "2999-01-01").output == "no alerts\n"
    unknown = cli(world, "alerts", "--signal", "nope")
    assert unknown.exit_code == 1 and unknown.output.startswith("allywatch: no signal 'nope'")
    bad = cli(world, "alerts", "--since", "last tuesday")
    assert bad.exit_code == 2 and "allywatch: Invalid value for --since" in bad.output

    history = json.loads(
        cli(world, "history", "csto-summit-attendance", "kazakhstan", "--json").output
    )
    assert history and {t["entity"] for t in history} == {"Kazakhstan"}
    nobody = cli(world, "history", "csto-summit-attendance", "Narnia")
    assert nobody.exit_code == 1 and "has no entity 'Narnia'" in nobody.output


def test_ack_all_counts_and_status_changed_lists_only_changed_rows(world: Path) -> None:
    unacked = len(json.loads(cli(world, "alerts", "--json", "--unacked").output))
    assert unacked > 1
    done = cli(world, "ack", "--all")
    assert done.exit_code == 0 and done.output == f"acknowledged {unacked} alerts\n"
    assert cli(world, "ack", "--all").output == "acknowledged 0 alerts\n"
    neither = cli(world, "ack")
    assert neither.exit_code == 2 and "allywatch: give an ALERT_ID or --all" in neither.output
    missing = cli(world, "ack", "999999")
    assert missing.exit_code == 1 and missing.output == "allywatch: no alert #999999\n"

    every = json.loads(cli(world, "status", "--json").output)
    changed = json.loads(cli(world, "status", "--json", "--changed", "1d").output)
    assert 0 < len(changed) < len(every)
    assert all(row["since"] for row in changed)
    none = cli(world, "status", "--changed", "2999-01-01", "--tz", "UTC")
    assert none.output.startswith("no state changed since 2999-01-01 00:00 UTC")


def test_subscribers_edit_and_unknown_addresses(world: Path) -> None:
    assert cli(world, "subscribers", "add", "ann@example.org").exit_code == 0
    edited = cli(
        world, "subscribers", "edit", "ANN@example.org", "--signals", "su35-iran",
        "--cadence", "weekly", "--day", "fri", "--time", "08:15", "--tz", "Europe/Berlin",
    )  # fmt: skip
    assert edited.exit_code == 0, edited.output
    assert edited.output == "changed ann@example.org: su35-iran; weekly fri 08:15 Europe/Berlin\n"
    [ann] = json.loads(cli(world, "subscribers", "list", "--json").output)
    assert (ann["signals"], ann["cadence"], ann["day"], ann["time"], ann["tz"]) == (
        ["su35-iran"], "weekly", "fri", "08:15", "Europe/Berlin",
    )  # fmt: skip
    widened = cli(world, "subscribers", "edit", "ann@example.org", "--all-signals")
    assert widened.output.startswith("changed ann@example.org: all signals; weekly fri 08:15")
    wrong = cli(world, "subscribers", "edit", "ann@example.org", "--signals", "nope")
    assert wrong.exit_code == 1 and wrong.output.startswith("allywatch: unknown signal nope")
    for command in (["subscribers", "edit"], ["subscribers", "remove"], ["digest", "preview"]):
        result = cli(world, *command, "nobody@example.org")
        assert result.exit_code == 1, (command, result.output)
        assert "allywatch: nobody@example.org is not a subscriber" in result.output


def test_plurals() -> None:
    assert [plural(n, "source") for n in (0, 1, 2)] == ["0 sources", "1 source", "2 sources"]
    assert plural(1, "story") == "1 story" and plural(3, "story") == "3 stories"
    assert plural(2, "day") == "2 days" and plural(2, "match") == "2 matches"


def test_alembic_lines_join_the_key_value_log(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'older.db'}")
    with engine.begin() as connection:  # an older schema: Alembic upgrades it
        migrate(connection, "0001")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging()
        upgrade(engine)
        engine.dispose()
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = capsys.readouterr().err.splitlines()
    alembic = [line for line in lines if "logger=alembic" in line]
    assert alembic, lines
    assert all(" level=" in line and " event=" in line for line in lines), lines
    assert any('message="Running upgrade' in line for line in alembic)
