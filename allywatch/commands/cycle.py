"""`allywatch run`: one cycle, for cron."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from allywatch.cycle import run_cycle
from allywatch.workspace import Workspace

EXIT_OK, EXIT_FAILED, EXIT_SOURCES_FAILED = 0, 1, 3


@click.command()
@click.option(
    "-v", "--verbose", is_flag=True, help="Say what the cycle did, even when nothing changed."
)
@click.option(
    "--now",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    default=None,
    hidden=True,
    help="Pretend the clock says this (UTC unless an offset is given).",
)
@click.pass_context
def run(ctx: click.Context, verbose: bool, now: datetime | None) -> None:
    """One cycle: poll due sources, match, evaluate, send due digests.

    Quiet when nothing changed (cron mails any output); prints the alerts it
    raised. Exit status: 0 ok, 1 could not run, 3 ran but some sources failed.
    """
    workspace = Workspace.open(ctx.obj["config_path"])
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    report = run_cycle(workspace, now)
    for alert in report.alerts:
        if alert.announced:
            click.echo(f"ALERT [{alert.severity}] {alert.message}")
    if verbose:
        click.echo(
            f"polled {report.polled} sources, {report.new_articles} new articles,"
            f" {report.observations} observations, {len(report.alerts)} alerts"
        )
    for name, error in report.failed:
        click.echo(f"source {name!r} failed: {error}", err=True)
    sys.exit(EXIT_SOURCES_FAILED if report.failed else EXIT_OK)


COMMANDS = [run]
