"""`allywatch run`: one cycle, for cron."""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from allywatch.cycle_plan import CycleReport
from allywatch.errors import EXIT_TEMPFAIL
from allywatch.health import failing_digests, failing_too_long
from allywatch.language.durations import format_duration, parse_duration
from allywatch.output import echo, plural, terminal_safe
from allywatch.quiet_cycle import cycle
from allywatch.runlock import LockBusy, cycle_turn
from allywatch.store import reads
from allywatch.store.engine import shown_url
from allywatch.store.reads import SourceRecord, current_sqlite_file
from allywatch.workspace import Workspace

if TYPE_CHECKING:
    from allywatch.cycle import DryRun

EXIT_OK, EXIT_FAILED, EXIT_SOURCES_FAILED = 0, 1, 3

# Connection errors that mean a host name did not resolve (glibc, macOS, Windows wording).
_NAME_NOT_RESOLVED = (
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "no address associated with hostname",
    "getaddrinfo failed",
)


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic only from click 8.5
    """A duration as config files spell it: 90s, 5m, 1h; a bare number is seconds."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
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
@click.option("--now", "poll_all", is_flag=True, help="Poll every source now, due or not.")
@click.option(
    "--source",
    "source_names",
    metavar="NAME",
    multiple=True,
    help="Poll this source now, due or not, and no other (repeatable).",
)
@click.option(
    "--wait",
    type=Duration(),
    default="60s",
    show_default=True,
    help="If another run is working on the database, wait this long for it to finish.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Poll, match and evaluate on a throw-away copy of the database: print what"
    " would be stored and which alerts would be raised; store, send and write nothing"
    " (SQLite only).",
)
@click.option(
    "--clock",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    default=None,
    hidden=True,
    help="Pretend the clock says this (UTC unless an offset is given).",
)
@click.pass_context
def run(
    ctx: click.Context,
    verbose: bool,
    poll_all: bool,
    source_names: tuple[str, ...],
    wait: timedelta,
    dry_run: bool,
    clock: datetime | None,
) -> None:
    """One cycle: poll due sources, match, evaluate, send due digests.

    Quiet when nothing changed (cron mails any output); prints the alerts it
    raised. Exit status: 0 ok; 1 could not run; 3 ran, but a source failed
    this time or has been failing for feed_failure_alert_after, or a digest
    is failing. Runs on one database take turns: a run that finds another
    one working waits for it (--wait), then gives up with exit status 75
    (EX_TEMPFAIL: try again later), as it does when another program keeps
    the database locked.

    --dry-run runs the cycle on a throw-away copy of the database and prints
    the articles it would store and the alerts it would raise, each marked
    announced or not; the database, its fetch state (etags, next polls,
    failures) included, is left as it was, and no digest, message or report
    is sent or written. Its exit status is a run's.
    """
    workspace = Workspace.for_reading(ctx.obj["config_path"])
    workspace.outlines  # noqa: B018 (bad signal files stop the run before the database is touched)
    poll = _sources_to_poll(workspace, poll_all, source_names)
    now = datetime.now(UTC) if clock is None else clock
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    if dry_run:
        _dry_run(workspace, now, poll, verbose)
    # A current SQLite file takes its lease with sqlite3 alone, for the quiet cycle's sake.
    database = current_sqlite_file(workspace.view.database) or workspace.engine
    try:
        lock = cycle_turn(database, wait.total_seconds())
    except LockBusy as exc:
        click.echo(f"allywatch: {exc}; gave up after waiting {format_duration(wait)}", err=True)
        sys.exit(EXIT_TEMPFAIL)
    with lock:
        report = cycle(workspace, now, poll=poll)
    standing = Standing.read(workspace, now)
    for alert in report.alerts:
        if alert.announced:
            echo(f"ALERT [{alert.severity}] {alert.message}")
    if verbose:
        _summary(report, standing, now)
    _failures(report, standing)
    sys.exit(EXIT_SOURCES_FAILED if report.failed or standing.failing else EXIT_OK)


def _dry_run(workspace: Workspace, now: datetime, poll: list[str] | None, verbose: bool) -> None:
    """`run --dry-run`: the cycle on a copy of the database; exits as `run` does."""
    from allywatch.cycle import dry_run_cycle

    database = workspace.config.database
    if not database.startswith("sqlite:///") or database.startswith("sqlite:///:memory:"):
        raise click.ClickException(
            f"run --dry-run works on an SQLite database file only, not {shown_url(database)}"
            " (copy the database into one with `allywatch db copy` to try a cycle on it)"
        )
    with dry_run_cycle(workspace, now, poll=poll) as outcome:
        # What is failing after the cycle, as a real run would read it: from the copy.
        standing = Standing.read(outcome.workspace, now)
    _would_do(outcome)
    report = outcome.report
    if verbose:
        _summary(report, standing, now)
    _failures(report, standing)
    sys.exit(EXIT_SOURCES_FAILED if report.failed or standing.failing else EXIT_OK)


def _would_do(outcome: DryRun) -> None:
    """The articles a dry run would store, per source, and the alerts it would raise."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, title, _link in outcome.articles:
        by_source[source].append(title)
    echo(
        f"dry run: nothing was stored or sent; {plural(len(outcome.articles), 'new article')}"
        " would be stored"
    )
    for source, titles in by_source.items():
        echo(f"  {source}: {plural(len(titles), 'new article')}")
        for title in titles:
            echo(f"    {title}")
    for alert in outcome.report.alerts:
        said = "would be announced" if alert.announced else "would be recorded, not announced"
        echo(f"WOULD ALERT [{alert.severity}] {alert.message} ({said})")


def _sources_to_poll(
    workspace: Workspace, poll_all: bool, names: tuple[str, ...]
) -> list[str] | None:
    """The sources to poll whatever their schedule; None: those that are due."""
    configured = list(workspace.view.source_names)
    if names:
        unknown = [name for name in names if name not in configured]
        if unknown:
            raise click.ClickException(
                f"no source named {', '.join(map(repr, unknown))}"
                f" (configured: {', '.join(configured) or 'none'})"
            )
        return list(names)
    return configured if poll_all else None


@dataclass
class Standing:
    """What is failing after the cycle, whether or not this cycle touched it."""

    sources: list[SourceRecord]  # failing for feed_failure_alert_after or longer
    digests: list[str]  # addresses whose last digest was not accepted
    next_due: SourceRecord | None
    locations: dict[str, str]  # source name -> where it is read from

    @classmethod
    def read(cls, workspace: Workspace, now: datetime) -> Standing:
        view = workspace.view
        with workspace.reader() as db:
            sources = reads.list_sources(db, view.source_names)
            active = reads.list_subscribers(db, active_only=True)
            next_due = reads.next_due_source(db, view.source_names)
        return cls(
            sources=failing_too_long(sources, view, now),
            digests=[s.email for s in failing_digests(active)],
            next_due=next_due,
            locations={s.name: s.location for s in view.sources},
        )

    @property
    def failing(self) -> bool:
        return bool(self.sources or self.digests)


def _summary(report: CycleReport, standing: Standing, now: datetime) -> None:
    failed = f" ({len(report.failed)} failed)" if report.failed else ""
    echo(
        f"polled {plural(report.polled, 'source')}{failed},"
        f" {plural(report.new_articles, 'new article')},"
        f" {plural(report.observations, 'observation')}, {plural(len(report.alerts), 'alert')}"
        f" ({len(report.alerts) - report.unannounced.total()} announced)"
    )
    for reason, count in sorted(report.unannounced.items()):
        echo(f"{plural(count, 'alert')} {reason}")
    if not report.polled and standing.next_due is not None:
        source = standing.next_due
        at = source.next_poll_at or now
        echo(
            f"no source was due; next: {source.name!r} at {at:%Y-%m-%d %H:%M} UTC"
            f" (in {_minutes(at - now)}); `allywatch run --now` polls every source now"
        )


def _minutes(delta: timedelta) -> str:
    """A wait in whole minutes, rounded up: 1m, 45m, 2h05m."""
    minutes = max(0, -(-int(delta.total_seconds()) // 60))
    return f"{minutes}m" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _failures(report: CycleReport, standing: Standing) -> None:
    """Every failure on stderr: this cycle's sources (identical errors as one line), the
    digests that failed, and what has been failing for longer."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for name, error in report.failed:
        grouped[error].append(name)
    for error, names in grouped.items():
        hosts = [f"({_host(standing.locations.get(name, ''))})" for name in names]
        hint = _hint(error, everything=len(names) == report.polled and len(names) > 1)
        if len(names) == 1:
            _warn(f"source {names[0]!r} failed {hosts[0]}: {error}{hint}")
        else:
            listed = ", ".join(f"{name!r} {host}" for name, host in zip(names, hosts, strict=True))
            _warn(f"{len(names)} sources failed: {error}{hint}\n  {listed}")
    failed_now = {name for name, _ in report.failed}
    for source in standing.sources:
        if source.name not in failed_now:
            _warn(
                f"source {source.name!r} ({_host(source.location)}) failing since"
                f" {source.failing_since:%Y-%m-%d %H:%M} UTC: {source.error_kind}: {source.error}"
            )
    failed_digests = dict(report.digests.failed)
    for address, error in failed_digests.items():
        _warn(f"digest for {address} failed: {error}")
    waiting = [a for a in standing.digests if a not in failed_digests]
    if waiting:
        _warn(
            f"{len(waiting)} digest(s) failing, waiting for a retry"
            " (`allywatch subscribers list` says why)"
        )


def _hint(error: str, *, everything: bool) -> str:
    """A word on what a connection error likely means."""
    lowered = error.lower()
    if any(words in lowered for words in _NAME_NOT_RESOLVED):
        return ": is this machine offline?" if everything else ": is the host name right?"
    if everything and "connect" in lowered:
        return ": is this machine offline?"
    return ""


def _host(location: str) -> str:
    """The host a source is read from, or its file for a local one."""
    return urlsplit(location).hostname or location


def _warn(line: str) -> None:
    click.echo(terminal_safe(line), err=True)


COMMANDS = [run]
