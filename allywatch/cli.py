"""The `allywatch` command: one click group, each command group in allywatch/commands/."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from allywatch.config import ConfigError

# Modules under allywatch.commands; each exposes `COMMANDS`, a list of click commands.
COMMANDS = [
    "allywatch.commands.setup",
    "allywatch.commands.cycle",
    "allywatch.commands.serve",
    "allywatch.commands.report",
    "allywatch.commands.signals",
    "allywatch.commands.subscribers",
    "allywatch.commands.state",
    "allywatch.commands.db",
]


class _Group(click.Group):
    """Turns the errors a user can fix into one clear line and exit status 1."""

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


for _module in COMMANDS:
    for _command in importlib.import_module(_module).COMMANDS:
        main.add_command(_command)
