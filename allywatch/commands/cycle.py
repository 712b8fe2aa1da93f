"""`allywatch run`: one cycle, for cron."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click

from allywatch.cycle import run_cycle
from allywatch.language.durations import format_duration, parse_duration
from allywatch.runlock import LockBusy, cycle_turn
from allywatch.workspace import Workspace

EXIT_OK, EXIT_FAILED, EXIT_SOURCES_FAILED = 0, 1, 3


class Duration(click.ParamType):
    """A duration as config files spell it: 90s, 5m, 1h; a bare number is seconds."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, timedelta):
            return value
        text = str(value).strip()
        try:
            return parse_duration(float(text) if text.replace(".", "", 1).isdigit() else text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@click.option(
    "-v", "--verbose", is_flag=True, help="Say what the cycle did, even when nothing changed."
)
@click.option(
    "--wait",
    type=Duration(),
    default="60s",
    show_default=True,
    help="If another run is working on the database, wait this long for it to finish.",
)
@click.option(
    "--now",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    default=None,
    hidden=True,
    help="Pretend the clock says this (UTC unless an offset is given).",
)
@click.pass_context
def run(ctx: click.Context, verbose: bool, wait: timedelta, now: datetime | None) -> None:
    """One cycle: poll due sources, match, evaluate, send due digests.

    Quiet when nothing changed (cron mails any output); prints the alerts it
    raised. Exit status: 0 ok, 1 could not run, 3 ran but some sources failed.
    Runs on one database take turns: a run that finds another one working
    waits for it (--wait), then gives up with exit status 1.
    """
    workspace = Workspace.open(ctx.obj["config_path"])
    workspace.signals  # noqa: B018 (bad signal files stop the run before the database is touched)
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    try:
        lock = cycle_turn(workspace.engine, wait.total_seconds())
    except LockBusy as exc:
        click.echo(f"allywatch: {exc}; gave up after waiting {format_duration(wait)}", err=True)
        sys.exit(EXIT_FAILED)
    with lock:
        report = run_cycle(workspace, now)
    for alert in report.alerts:
        if alert.announced:
            click.echo(f"ALERT [{alert.severity}] {alert.message}")
    if verbose:
        click.echo(
            f"polled {report.polled} sources, {report.new_articles} new articles,"
            f" {report.observations} observations, {len(report.alerts)} alerts"
            f" ({len(report.alerts) - report.unannounced.total()} announced)"
        )
        for reason, count in sorted(report.unannounced.items()):
            click.echo(f"{count} {'alert' if count == 1 else 'alerts'} {reason}")
    for name, error in report.failed:
        click.echo(f"source {name!r} failed: {error}", err=True)
    for email, error in report.digests.failed:
        click.echo(f"digest for {email} failed: {error}", err=True)
    sys.exit(EXIT_SOURCES_FAILED if report.failed else EXIT_OK)


COMMANDS = [run]
