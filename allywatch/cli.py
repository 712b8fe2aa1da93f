"""The `allywatch` command: one click group, each command group in allywatch/commands/."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from allywatch.errors import ConfigError, database_fault

# Each command: the module under allywatch.commands that defines it, and the line
# `allywatch --help` shows for it. Modules are only imported when their command
# runs (or its own --help is asked for), so `allywatch --help` and `allywatch
# status` do not pay for the fetcher, the scheduler or the mailer. Each module
# lists its commands in `COMMANDS`.
COMMANDS = {
    "init": ("setup", "Write a starter config (real feeds, built-in signals)."),
    "run": ("cycle", "One cycle: poll, match, evaluate, send due digests."),
    "serve": ("serve", "Run cycles and digests on a schedule until stopped."),
    "status": ("report", "Each signal's state, since when, and last evidence."),
    "history": ("report", "A signal's transitions, newest first."),
    "alerts": ("report", "Alerts raised, newest first."),
    "ack": ("report", "Acknowledge an alert."),
    "feeds": ("feeds", "Sources and their health; add feeds from an OPML file."),
    "match": ("signals", "Match articles from a JSON Lines file; no database."),
    "signals": ("signals", "Check signal files and run their embedded tests."),
    "subscribers": ("subscribers", "Who gets digests, for which signals, how often."),
    "digest": ("subscribers", "Render or send the digests that are due."),
    "unsubscribe": ("subscribers", "Honour an unsubscribe token from a digest's link."),
    "unsubscribe-server": ("subscribers", "Serve unsubscribe links over HTTP."),
    "explain": ("state", "The articles and matched words behind a signal's state."),
    "silence": ("state", "Record a signal's changes unannounced for a while."),
    "backtest": ("state", "Replay dated articles; print when states would change."),
    "db": ("db", "Upgrade the schema, or copy the database elsewhere."),
    "config": ("config", "Check the config, its signals and database; touch nothing."),
    "report": ("site", "Write the HTML report and the Atom feed of alerts."),
    "review": ("review", "Near-misses to review; verdicts on them become tests."),
}


class _Group(click.Group):
    """Loads commands on demand, and turns the errors a user can fix into one
    clear line and exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"allywatch.commands.{COMMANDS[name][0]}")
        commands: list[click.Command] = module.COMMANDS
        return next(c for c in commands if c.name == name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from COMMANDS, without importing a single command module."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in self.list_commands(ctx)])

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _one_error_style():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> object:
        with _one_error_style():
            return super().invoke(ctx)


@contextmanager
def _one_error_style() -> Iterator[None]:
    """Every error a user can fix as `allywatch: message` on stderr: ours (exit status 1),
    click's own (a usage error keeps its usage lines and exit status 2) and the
    database's faults (see database_fault)."""
    try:
        yield
    except ConfigError as exc:
        click.echo(f"allywatch: {exc}", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            command = exc.ctx.command_path
            click.echo(f"{exc.ctx.get_usage()}\nTry '{command} --help' for help.\n", err=True)
        click.echo(f"allywatch: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        fault = database_fault(exc)  # damaged, locked, full: one line, not a traceback
        if fault is None:
            raise
        click.echo(f"allywatch: {fault.line}", err=True)
        sys.exit(fault.status)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Config file (default: $ALLYWATCH_CONFIG, else ./allywatch.yaml).",
)
@click.version_option(None, "-V", "--version", package_name="allywatch")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """allywatch: watch the news for signals, and say when one changes."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
