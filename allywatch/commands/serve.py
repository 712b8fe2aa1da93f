"""`allywatch serve`: run cycles and digests on a schedule until stopped."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from allywatch.commands.cycle import Duration
from allywatch.runlock import LockBusy
from allywatch.serve import MIN_TICK, Server, configure_logging
from allywatch.workspace import Workspace


@click.command()
@click.option(
    "--tick",
    type=Duration(),
    default="1m",
    show_default=True,
    help="How often to look for due sources and due digests.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail as well.")
@click.pass_context
def serve(ctx: click.Context, tick: timedelta, verbose: bool) -> None:
    """Run the cycle of `allywatch run` every tick until SIGTERM or Ctrl-C.

    Each source is polled when its own interval has come round, the rules are
    evaluated after every poll, and digests go out when due. Logs one
    key=value line per event on stderr. Only one serve may run per database;
    a second one exits with status 1. On SIGTERM or SIGINT the cycle in
    progress finishes first.
    """
    if tick < MIN_TICK:
        raise click.BadParameter(
            f"must be at least {MIN_TICK.total_seconds():g}s", param_hint="--tick"
        )
    workspace = Workspace.open(ctx.obj["config_path"])
    workspace.signals  # noqa: B018 (bad signal files stop serve before the database is touched)
    configure_logging(verbose)
    try:
        Server(workspace, tick=tick).run()
    except LockBusy as exc:
        click.echo(f"allywatch: {exc}; only one serve may run per database", err=True)
        sys.exit(1)


COMMANDS = [serve]
