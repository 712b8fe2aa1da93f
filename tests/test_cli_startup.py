"""`allywatch --help`, `-h` and `-V` answer without loading any command's libraries,
and the command list the help shows is the one the command modules define; `status`,
`feeds` and `alerts` load only what reading the database and printing it needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from allywatch.cli import COMMANDS, main

HEAVY = ("sqlalchemy", "pydantic", "httpx", "feedparser", "jinja2", "apscheduler", "yaml")
FEEDS = Path(__file__).resolve().parent.parent / "examples" / "feeds"
# What the read commands never use: templates, chat, mail, fetching, feed parsing,
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
    alerts, so status and alerts have some to print)."""
    folder = tmp_path_factory.mktemp("watch")
    sources = "".join(f"  - {{name: {f.stem}, path: '{f}'}}\n" for f in sorted(FEEDS.glob("*.xml")))
    config = folder / "allywatch.yaml"
    config.write_text(f"database: sqlite:///watch.db\nsources:\n{sources}", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "run", "--clock", "2025-09-10"])
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


def test_feeds_reads_the_sources_without_the_orm(watched: Path) -> None:
    loaded = modules_loaded_by("--config", str(watched), "feeds")
    assert "allywatch.commands.feeds" in loaded and "sqlalchemy" in loaded
    assert "sqlalchemy.orm" not in loaded and "allywatch.store.models" not in loaded


def test_loading_a_config_imports_neither_the_fetcher_nor_the_rules_engine() -> None:
    """Every command loads the config: its settings types are apart from the code using them."""
    code = "import sys, allywatch.config; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    unused = ("httpx", "asyncio", "allywatch.watchers.fetch", "allywatch.alerts.rules")
    assert not [m for m in unused if m in loaded]
    assert "pydantic" in loaded and "allywatch.watchers.fetch_settings" in loaded
