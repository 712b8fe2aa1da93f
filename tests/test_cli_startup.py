"""`allywatch --help`, `-h` and `-V` answer without loading any command's libraries,
and the command list the help shows is the one the command modules define; `status`,
`feeds` and `alerts` load only what reading the database and printing it needs: on an
SQLite file at the newest schema, not even SQLAlchemy (store/reads.py), and they print
the same as when they read through SQLAlchemy. With the config's view cached
(allywatch/config_view.py, tests/test_config_view.py) they load neither the config loader
nor pydantic nor PyYAML."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from feedserver import FeedServer, Reply

from allywatch.cli import COMMANDS, main

HEAVY = ("sqlalchemy", "pydantic", "httpx", "feedparser", "jinja2", "apscheduler", "yaml")
FEEDS = Path(__file__).resolve().parent.parent / "examples" / "feeds"
# What the read commands never use: templates, chat, mail, notifications, fetching, feed parsing,
# migrations, the scheduler, the rules engine; and (status, with its signal outlines
# cached) the signal loader and the signal language.
NOT_FOR_READING = (
    "jinja2",
    "apprise",
    "feedparser",
    "alembic",
    "apscheduler",
    "smtplib",
    "allywatch.alerts.dispatch",
    "allywatch.alerts.mailer",
    "allywatch.language.loader",
    "allywatch.language.model",
    "allywatch.watchers.parse",
    "allywatch.watchers.matcher",
    "allywatch.watchers.fetch",
    "httpx",
    "allywatch.alerts.rules",
    "allywatch.alerts.occurrences",
    "allywatch.alerts.notify",
    "allywatch.alerts.digest",
    "markupsafe",
)


def modules_loaded_by(*args: str, env: dict[str, str] | None = None) -> set[str]:
    code = (
        "import sys\n"
        "from allywatch.cli import main\n"
        f"try:\n    main({list(args)!r})\n"
        "except SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return set(done.stderr.split())


def test_help_and_version_load_no_command_module_and_no_heavy_library() -> None:
    for args in (["--help"], ["-h"], ["-V"]):
        loaded = modules_loaded_by(*args)
        assert "allywatch.cli" in loaded
        heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
        assert not heavy, f"{args} imported {heavy[:5]}"
        commands = sorted(m for m in loaded if m.startswith("allywatch.commands."))
        assert not commands, f"{args} imported {commands}"


def test_the_help_lists_every_command_on_one_uncut_line() -> None:
    output = CliRunner().invoke(main, ["-h"], terminal_width=80).output
    listing = output.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listing] == sorted(COMMANDS)
    assert not any(line.rstrip().endswith("...") for line in listing)


def test_version_answers_to_its_short_flag() -> None:
    result = CliRunner().invoke(main, ["-V"])
    assert result.exit_code == 0 and "version 0.1" in result.output


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config and SQLite database after one cycle over the sample feeds (which raises
    alerts, so status and alerts have some to print), with two subscribers and one
    alert acknowledged."""
    folder = tmp_path_factory.mktemp("watch")
    sources = "".join(f"  - {{name: {f.stem}, path: '{f}'}}\n" for f in sorted(FEEDS.glob("*.xml")))
    config = folder / "allywatch.yaml"
    config.write_text(f"database: sqlite:///watch.db\nsources:\n{sources}", encoding="utf-8")
    for args in (
        ["subscribers", "add", "analyst@example.org", "--signals", "su35-iran", "--all-quiet"],
        ["subscribers", "add", "desk@example.org", "--cadence", "weekly", "--day", "fri"],
        ["run", "--clock", "2025-09-10"],
        ["ack", "2"],
    ):
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
    return config


@pytest.mark.parametrize("command", ["status", "feeds", "alerts"])
def test_the_read_commands_load_no_template_mail_feed_or_migration_library(
    watched: Path, command: str
) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(watched.parent / "cache")}
    args = ("--config", str(watched), command)
    modules_loaded_by(*args, env=env)  # status's first run caches the signal outlines
    loaded = modules_loaded_by(*args, env=env)
    assert f"allywatch.commands.{COMMANDS[command][0]}" in loaded
    unused = sorted(m for m in NOT_FOR_READING if m in loaded)
    assert not unused, f"{command} imported {unused}"


@pytest.mark.parametrize(
    "command",
    [["status"], ["status", "--json"], ["feeds"], ["alerts"], ["alerts", "--format", "json"]],
    ids=" ".join,
)
def test_the_read_commands_read_a_current_sqlite_file_without_sqlalchemy(
    watched: Path, command: list[str]
) -> None:
    """SQLAlchemy alone takes longer to import than these commands may take in all."""
    env = {**os.environ, "XDG_CACHE_HOME": str(watched.parent / "cache")}
    modules_loaded_by("--config", str(watched), *command, env=env)
    loaded = modules_loaded_by("--config", str(watched), *command, env=env)
    assert "allywatch.store.reads" in loaded
    alchemy = sorted(m for m in loaded if m.split(".")[0] == "sqlalchemy")
    assert not alchemy, f"{command} imported {alchemy[:5]}"
    assert "allywatch.store.models" not in loaded


@pytest.mark.parametrize(
    "command",
    [["status"], ["feeds"], ["alerts"], ["alerts", "--format", "json"]],
    ids=" ".join,
)
def test_the_read_commands_load_neither_pydantic_nor_yaml_with_the_config_view_cached(
    watched: Path, command: list[str]
) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(watched.parent / "cache")}
    modules_loaded_by("--config", str(watched), *command, env=env)  # caches the view
    loaded = modules_loaded_by("--config", str(watched), *command, env=env)
    assert "allywatch.config_view" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in ("pydantic", "yaml", "sqlalchemy"))
    assert not heavy, f"{command} imported {heavy[:5]}"
    loader = ("allywatch.config", "allywatch.watchers.sources", "allywatch.language.yaml_lines")
    assert not [m for m in loader if m in loaded]


READ_COMMANDS = [
    ["status"],
    ["status", "--format", "json"],
    ["status", "--changed", "2025-06-01", "--tz", "UTC"],
    ["feeds"],
    ["feeds", "--format", "json"],
    ["alerts"],
    ["alerts", "--format", "json"],
    ["alerts", "--format", "csv"],
    ["alerts", "--unacked", "--signal", "su35-iran", "--since", "2025-06-01"],
    ["subscribers", "list"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_the_read_commands_say_the_same_through_sqlite3_and_through_sqlalchemy(
    watched: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["--config", str(watched), *command]
    light = CliRunner().invoke(main, args)
    assert light.exit_code == 0, light.output
    monkeypatch.setattr("allywatch.workspace.open_sqlite", lambda url: None)
    engine = CliRunner().invoke(main, args)
    assert engine.exit_code == 0, engine.output
    assert light.output == engine.output
    assert len(light.output.splitlines()) > 1


def test_status_upgrades_an_older_schema_before_reading_it(tmp_path: Path) -> None:
    """The sqlite3 reader reads only a schema at the newest revision; an older one is
    upgraded first, as every command opening the database does."""
    from allywatch.store.engine import open_engine
    from allywatch.store.migrate import current_revision, head_revision, migrate

    database = tmp_path / "old.db"
    engine = open_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        migrate(connection, "0003")
    assert current_revision(engine) == "0003"
    config = tmp_path / "allywatch.yaml"
    config.write_text(f"database: sqlite:///{database}\nsources: []\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "status"])
    assert result.exit_code == 0, result.output
    assert "feeds: 0 configured, 0 healthy, 0 failing" in result.output
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_loading_a_config_imports_neither_the_fetcher_nor_the_rules_engine() -> None:
    """Every command loads the config: its settings types are apart from the code using them."""
    code = "import sys, allywatch.config; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    unused = ("httpx", "asyncio", "allywatch.watchers.fetch", "allywatch.alerts.rules")
    assert not [m for m in unused if m in loaded]
    assert "pydantic" in loaded and "allywatch.watchers.fetch_settings" in loaded


# What a quiet cycle (no new article, no signal due, no digest due) never uses: the rules
# engine and the signal language it reads, SMTP and the email package's policies, the
# unsubscribe links of digests and the escaping of chat messages.
NOT_FOR_A_QUIET_CYCLE = (
    "allywatch.alerts.rules",
    "allywatch.alerts.occurrences",
    "allywatch.alerts.unsubscribe",
    "allywatch.language.model",
    "regex",
    "smtplib",
    "email.policy",
    "markupsafe",
)


# Nor, where it can be done the quiet way (allywatch/quiet_cycle.py), the full cycle,
# SQLAlchemy, the config's validation, nor the feed parser.
NOT_FOR_THE_QUIET_WAY = (
    "allywatch.cycle",
    "allywatch.config",
    "allywatch.alerts.dispatch",
    "sqlalchemy",
    "pydantic",
    "yaml",
    "feedparser",
)


def quiet_cycle_modules(tmp_path: Path, feed_server: FeedServer, *, failing: bool) -> set[str]:
    """The modules a second `run --now` loads, the feed answering 304 (the first stores
    the feed and caches the outlines); with `failing`, beside a second feed that fails."""
    rss = (FEEDS / sorted(p.name for p in FEEDS.glob("*.xml"))[0]).read_bytes()
    url = feed_server.route("/feed.xml", Reply(body=rss, etag='"v1"'))
    config = tmp_path / "allywatch.yaml"
    sources = f"  - {{name: feed, url: '{url}'}}\n"
    if failing:
        sources += f"  - {{name: broken, url: '{feed_server.route('/gone', Reply(status=500))}'}}\n"
    config.write_text(
        f"database: sqlite:///{tmp_path / 'watch.db'}\nsources:\n{sources}", encoding="utf-8"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = ("--config", str(config), "run", "--now")
    first = modules_loaded_by(*args, env=env)
    assert "allywatch.alerts.rules" in first
    loaded = modules_loaded_by(*args, env=env)
    assert feed_server.requests_to("/feed.xml")[-1].get("if-none-match") == '"v1"'
    assert len(feed_server.requests_to("/feed.xml")) == 2  # nothing fetched twice
    return loaded


def test_a_quiet_cycle_loads_neither_the_orm_nor_the_rules_engine_nor_smtp(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A cron cycle in which every feed answers 304 pays only for what it uses."""
    loaded = quiet_cycle_modules(tmp_path, feed_server, failing=False)
    assert "allywatch.quiet_cycle" in loaded and "httpx" in loaded
    unused = sorted(m for m in NOT_FOR_A_QUIET_CYCLE + NOT_FOR_THE_QUIET_WAY if m in loaded)
    assert not unused, f"a quiet cycle imported {unused}"


def test_a_cycle_with_a_failing_feed_loads_no_rules_engine_nor_smtp(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """A failing feed sends the cycle the full way (it may be due for a feed alert), which
    still loads only what it uses."""
    loaded = quiet_cycle_modules(tmp_path, feed_server, failing=True)
    assert "allywatch.cycle" in loaded and "allywatch.alerts.dispatch" in loaded
    unused = sorted(m for m in NOT_FOR_A_QUIET_CYCLE if m in loaded)
    assert not unused, f"a quiet cycle imported {unused}"
