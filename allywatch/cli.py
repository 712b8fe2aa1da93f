"""The `allywatch` command: one click group, each command group in allywatch/commands/."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from allywatch.config import ConfigError

# Which module under allywatch.commands defines each command. Modules are only
# imported when their command runs, so `allywatch status` does not pay for the
# fetcher, the scheduler or the mailer. Each module lists its commands in `COMMANDS`.
COMMANDS = {
    "init": "allywatch.commands.setup",
    "run": "allywatch.commands.cycle",
    "serve": "allywatch.commands.serve",
    "status": "allywatch.commands.report",
    "history": "allywatch.commands.report",
    "alerts": "allywatch.commands.report",
    "ack": "allywatch.commands.report",
    "feeds": "allywatch.commands.feeds",
    "match": "allywatch.commands.signals",
    "signals": "allywatch.commands.signals",
    "subscribers": "allywatch.commands.subscribers",
    "digest": "allywatch.commands.subscribers",
    "unsubscribe": "allywatch.commands.subscribers",
    "unsubscribe-server": "allywatch.commands.subscribers",
    "explain": "allywatch.commands.state",
    "silence": "allywatch.commands.state",
    "backtest": "allywatch.commands.state",
    "db": "allywatch.commands.db",
}


class _Group(click.Group):
    """Loads commands on demand, and turns the errors a user can fix into one
    clear line and exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = COMMANDS.get(name)
        if module is None:
            return None
        return next(c for c in importlib.import_module(module).COMMANDS if c.name == name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            click.echo(f"allywatch: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Config file (default: $ALLYWATCH_CONFIG, else ./allywatch.yaml).",
)
@click.version_option(package_name="allywatch")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """allywatch: watch the news for signals, and say when one changes."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
