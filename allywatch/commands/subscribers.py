"""Subscribers and their digests: `subscribers`, `digest`, `unsubscribe`, `unsubscribe-server`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.exc import IntegrityError

from allywatch.alerts.digest import build_message
from allywatch.alerts.dispatch import preview_digests
from allywatch.alerts.notify import ChatMessage
from allywatch.alerts.schedule import CADENCES, WEEKDAYS
from allywatch.alerts.subscriptions import (
    SubscriptionError,
    edit_subscription,
    normalise_address,
    subscribe,
)
from allywatch.alerts.unsubscribe import TokenError, honour
from allywatch.alerts.unsubscribe_server import make_server
from allywatch.config import unsubscribe_secret
from allywatch.config_view import SECRET_ENV
from allywatch.digests import digest_settings, send_due
from allywatch.health import (
    digest_blockers,
    is_email,
    shown,
    subscriber_problems,
    vanished_signals,
)
from allywatch.output import (
    Zone,
    echo,
    echo_records,
    echo_table,
    format_option,
    iso,
    plural,
    terminal_safe,
    tz_option,
)
from allywatch.store import subscribers as store
from allywatch.store.engine import reading, writing
from allywatch.store.models import Subscriber
from allywatch.store.reads import SubscriberRecord, list_subscribers
from allywatch.workspace import Workspace

# The columns of `subscribers list --format csv`.
SUBSCRIBER_FIELDS = (
    "email",
    "signals",
    "cadence",
    "time",
    "tz",
    "day",
    "all_quiet",
    "active",
    "subscribed",
    "unsubscribed",
    "last_sent",
    "failures",
    "last_error",
    "next_attempt",
    "unknown_signals",
)

now_option = click.option(
    "--now",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    default=None,
    hidden=True,
    help="Pretend the clock says this (UTC unless an offset is given).",
)
pending_option = click.option(
    "--pending",
    is_flag=True,
    help="Every subscriber with unsent alerts, whatever its schedule says.",
)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now


@click.group()
def subscribers() -> None:
    """Who gets digests, for which signals, how often."""


@subscribers.command(name="add")
@click.argument("email", metavar="ADDRESS")
@click.option(
    "--signals", "signal_ids", default=None, help="Comma-separated signal ids (default: all)."
)
@click.option("--cadence", type=click.Choice(CADENCES), default="daily", show_default=True)
@click.option("--time", "send_time", default="07:00", show_default=True, help="Local HH:MM.")
@click.option("--tz", "timezone", default="UTC", show_default=True, help="IANA time zone.")
@click.option(
    "--day", "weekday", default="mon", show_default=True, help="Weekday of a weekly digest."
)
@click.option("--all-quiet", is_flag=True, help="Also write once a week when nothing changed.")
@click.pass_context
def add(
    ctx: click.Context,
    email: str,
    signal_ids: str | None,
    cadence: str,
    send_time: str,
    timezone: str,
    weekday: str,
    all_quiet: bool,
) -> None:
    """Subscribe ADDRESS to digests: an email address, or an Apprise URL
    (json://host/hook, tgram://token/chat, ...) for chat messages instead of email."""
    workspace = Workspace.open(ctx.obj["config_path"])
    known = {s.id for s in workspace.outlines}
    try:
        with writing(workspace.engine) as session:
            subscriber = subscribe(
                session,
                email,
                signals=signal_ids.split(",") if signal_ids is not None else None,
                known_signals=known,
                cadence=cadence,
                send_time=send_time,
                timezone=timezone,
                weekday=weekday,
                all_quiet=all_quiet,
                now=datetime.now(UTC),
            )
            line = f"subscribed {shown(subscriber.email)}: {_describe(subscriber)}"
            email_digests = is_email(subscriber.email)
    except SubscriptionError as exc:
        raise click.ClickException(str(exc)) from exc
    except IntegrityError as exc:
        raise click.ClickException(f"{email.strip()} is subscribed already") from exc
    echo(line)
    for why in digest_blockers(workspace.config) if email_digests else []:
        click.echo(f"warning: digests cannot be sent yet: {why}", err=True)


@subscribers.command(name="edit")
@click.argument("email", metavar="ADDRESS")
@click.option("--signals", "signal_ids", default=None, help="Comma-separated signal ids.")
@click.option("--all-signals", is_flag=True, help="Every signal, now and to come.")
@click.option("--cadence", type=click.Choice(CADENCES), default=None)
@click.option("--time", "send_time", default=None, help="Local HH:MM.")
@click.option("--tz", "timezone", default=None, help="IANA time zone.")
@click.option("--day", "weekday", default=None, help="Weekday of a weekly digest.")
@click.option(
    "--all-quiet/--no-all-quiet", default=None, help="Write once a week when nothing changed."
)
@click.pass_context
def edit(
    ctx: click.Context,
    email: str,
    signal_ids: str | None,
    all_signals: bool,
    cadence: str | None,
    send_time: str | None,
    timezone: str | None,
    weekday: str | None,
    all_quiet: bool | None,
) -> None:
    """Change what ADDRESS gets: only the options given change."""
    workspace = Workspace.open(ctx.obj["config_path"])
    try:
        with writing(workspace.engine) as session:
            subscriber = edit_subscription(
                session,
                email,
                known_signals={s.id for s in workspace.outlines},
                signals=signal_ids.split(",") if signal_ids is not None else None,
                all_signals=all_signals,
                cadence=cadence,
                send_time=send_time,
                timezone=timezone,
                weekday=weekday,
                all_quiet=all_quiet,
            )
            line = f"changed {shown(subscriber.email)}: {_describe(subscriber)}"
    except SubscriptionError as exc:
        raise click.ClickException(str(exc)) from exc
    echo(line)


@subscribers.command(name="remove")
@click.argument("email", metavar="ADDRESS")
@click.pass_context
def remove(ctx: click.Context, email: str) -> None:
    """Delete ADDRESS (an email address or Apprise URL) and its delivery records."""
    workspace = Workspace.open(ctx.obj["config_path"])
    try:
        address = normalise_address(email)
    except SubscriptionError as exc:
        raise click.ClickException(str(exc)) from exc
    with writing(workspace.engine) as session:
        removed = store.remove_subscriber(session, address)
    if not removed:
        raise click.ClickException(f"{shown(address)} is not a subscriber")
    echo(f"removed {shown(address)}")


@subscribers.command(name="list")
@format_option()
@tz_option
@click.pass_context
def list_command(ctx: click.Context, fmt: str, zone: Zone) -> None:
    """Subscribers, their schedules, and how their digests stand."""
    workspace = Workspace.open(ctx.obj["config_path"])
    with workspace.reader() as db:
        rows = list_subscribers(db)
    known = {s.id for s in workspace.outlines}
    if fmt != "table":
        echo_records(
            [
                {
                    "email": s.email,
                    "signals": s.signals,
                    "cadence": s.cadence,
                    "time": s.send_time,
                    "tz": s.timezone,
                    "day": WEEKDAYS[s.weekday],
                    "all_quiet": s.all_quiet,
                    "active": s.active,
                    "subscribed": iso(s.created_at),
                    "unsubscribed": iso(s.unsubscribed_at),
                    "last_sent": iso(s.last_sent_at),
                    "failures": s.failures,
                    "last_error": s.last_error,
                    "next_attempt": iso(s.next_attempt_at),
                    "unknown_signals": vanished_signals(s, known),
                }
                for s in rows
            ],
            fmt,
            SUBSCRIBER_FIELDS,
        )
        return
    if not rows:
        click.echo("no subscribers")
        return
    echo_table(
        ["email", "signals", "schedule", zone.label("last sent"), "state"],
        [
            [
                shown(s.email),
                ",".join(s.signals) if s.signals is not None else "all",
                _schedule(s),
                zone.when(s.last_sent_at),
                _state(s, zone),
            ]
            for s in rows
        ],
        shorten=("email",),
        wrap=("signals", "state"),
    )
    for problem in subscriber_problems(workspace.config, rows, known):
        echo(f"warning: {problem}")


@click.group()
def digest() -> None:
    """Render or send the digests that are due."""


@digest.command(name="preview")
@click.argument("emails", nargs=-1)
@pending_option
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write <email>.html, .txt and .eml files here instead of printing.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "eml"]),
    default="text",
    show_default=True,
    help="What to print when there is no --out.",
)
@now_option
@click.pass_context
def preview(
    ctx: click.Context,
    emails: tuple[str, ...],
    pending: bool,
    out: Path | None,
    fmt: str,
    now: datetime | None,
) -> None:
    """Render the digests `digest send` would send now (to EMAILs only, if given).

    Nothing is sent or recorded.
    """
    workspace = Workspace.open(ctx.obj["config_path"])
    moment = _now(now)
    settings = digest_settings(workspace)
    if not settings.secret:
        click.echo(
            f"warning: no unsubscribe secret (config `secret:` or ${SECRET_ENV}):"
            " these digests could not be sent",
            err=True,
        )
    digests = preview_digests(
        workspace.engine,
        settings,
        moment,
        emails=_addresses(workspace, emails),
        ignore_schedule=pending,
    )
    if not digests:
        click.echo(
            "no unsent alerts"
            if pending
            else "no digests due (--pending previews every unsent alert)"
        )
        return
    for item in digests:
        if isinstance(item, ChatMessage):
            echo(f"=== To: {shown(item.recipient)}  Title: {item.subject}")
            echo(item.text)
            continue
        message = build_message(item, settings.sender, moment)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{item.recipient}.html").write_text(item.html, encoding="utf-8")
            (out / f"{item.recipient}.txt").write_text(item.text, encoding="utf-8")
            (out / f"{item.recipient}.eml").write_bytes(bytes(message))
            click.echo(f"{item.recipient}: {out / item.recipient}.{{html,txt,eml}}")
        elif fmt == "eml":
            click.echo(message.as_string())
        else:
            click.echo(f"=== To: {item.recipient}  Subject: {item.subject}")
            click.echo(item.html if fmt == "html" else item.text)


@digest.command(name="send")
@click.argument("emails", nargs=-1)
@pending_option
@now_option
@click.pass_context
def send(ctx: click.Context, emails: tuple[str, ...], pending: bool, now: datetime | None) -> None:
    """Send the digests that are due (to EMAILs only, if given).

    Exit status 1 when a digest could not be sent (it stays pending and is retried).
    """
    workspace = Workspace.open(ctx.obj["config_path"])
    report = send_due(
        workspace, _now(now), emails=_addresses(workspace, emails), ignore_schedule=pending
    )
    for sent in report.sent:
        what = "all-quiet note" if sent.quiet else plural(sent.alerts, "alert")
        echo(f"sent {shown(sent.email)}: {what}")
    for email in report.busy:
        echo(f"skipped {shown(email)}: another run is sending its digest")
    for email, error in report.failed:
        click.echo(terminal_safe(f"digest for {shown(email)} failed: {error}"), err=True)
    if not (report.sent or report.failed or report.busy):
        click.echo("no digests due")
    sys.exit(1 if report.failed else 0)


@click.command(name="unsubscribe")
@click.argument("token")
@click.pass_context
def unsubscribe(ctx: click.Context, token: str) -> None:
    """Honour an unsubscribe TOKEN (from a digest's link or a reply)."""
    workspace = Workspace.open(ctx.obj["config_path"])
    secret = _secret(workspace)
    try:
        with writing(workspace.engine) as session:
            result = honour(session, secret, token, datetime.now(UTC))
    except TokenError as exc:
        raise click.ClickException(f"{exc}: nobody was unsubscribed") from exc
    click.echo(
        f"{result.email} was unsubscribed already"
        if result.already
        else f"unsubscribed {result.email}"
    )


@click.command(name="unsubscribe-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8025, show_default=True)
@click.pass_context
def unsubscribe_server(ctx: click.Context, host: str, port: int) -> None:
    """Serve unsubscribe links over HTTP (put it behind the config's base_url)."""
    workspace = Workspace.open(ctx.obj["config_path"])
    server = make_server(host, port, workspace.engine, _secret(workspace))
    bound_host, bound_port = server.server_address[:2]
    # !s: the host is a str (bound from one); the stubs allow bytes too.
    click.echo(f"serving unsubscribe links on http://{bound_host!s}:{bound_port}/unsubscribe")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _secret(workspace: Workspace) -> str:
    secret = unsubscribe_secret(workspace.config)
    if not secret:
        raise click.ClickException(
            f"no unsubscribe secret: set `secret:` in the config file or ${SECRET_ENV}"
        )
    return secret


def _addresses(workspace: Workspace, emails: tuple[str, ...]) -> list[str] | None:
    """The subscribers named, in their stored form; an error names any that is not one."""
    if not emails:
        return None
    try:
        addresses = [normalise_address(e) for e in emails]
    except SubscriptionError as exc:
        raise click.ClickException(str(exc)) from exc
    with reading(workspace.engine) as session:
        unknown = [a for a in addresses if store.find_subscriber(session, a) is None]
    if unknown:
        names = ", ".join(shown(a) for a in unknown)
        raise click.ClickException(
            f"{names} {'is not a subscriber' if len(unknown) == 1 else 'are not subscribers'}"
            " (allywatch subscribers list)"
        )
    return addresses


def _schedule(s: Subscriber | SubscriberRecord) -> str:
    if s.cadence == "immediate":
        return "immediate"
    day = f" {WEEKDAYS[s.weekday]}" if s.cadence == "weekly" else ""
    quiet = ", all-quiet" if s.all_quiet else ""
    return f"{s.cadence}{day} {s.send_time} {s.timezone}{quiet}"


def _describe(s: Subscriber | SubscriberRecord) -> str:
    signals = ", ".join(s.signals) if s.signals is not None else "all signals"
    return f"{signals}; {_schedule(s)}"


def _state(s: SubscriberRecord, zone: Zone) -> str:
    if not s.active:
        return f"unsubscribed {zone.when(s.unsubscribed_at)}"
    if s.failures:
        return f"FAILING x{s.failures} (retry {zone.when(s.next_attempt_at)}): {s.last_error}"
    return "ok"


COMMANDS = [subscribers, digest, unsubscribe, unsubscribe_server]
