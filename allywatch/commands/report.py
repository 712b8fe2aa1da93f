"""Reading the state: `status`, `history`, `alerts`, `ack`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

import click

from allywatch.alerts.occurrence import Occurrence
from allywatch.alerts.unannounced import unannounced_reason
from allywatch.commands.entities import entity_named
from allywatch.health import subscriber_problems
from allywatch.language.durations import parse_duration
from allywatch.language.records import Observation
from allywatch.output import (
    Zone,
    echo,
    echo_records,
    echo_table,
    format_option,
    iso,
    plural,
    tz_option,
)
from allywatch.store import reads
from allywatch.store.reads import AlertRecord, SourceRecord, SubscriberRecord
from allywatch.workspace import Workspace

if TYPE_CHECKING:
    from allywatch.store.reads import Database

since_option = click.option(
    "--since",
    metavar="WHEN",
    default=None,
    help="Only what changed (or was learnt of) since: a date, a time, or a span ago (7d).",
)

# How many failing sources `status` names before it points to `allywatch feeds`.
FAILING_LISTED = 5

# The columns of --format csv (json and ndjson hold the same keys).
STATUS_FIELDS = ("signal", "entity", "state", "since", "occurrence", "last_evidence")
HISTORY_FIELDS = ("signal", "entity", "from", "to", "at", "reason", "occurrence", "evidence")
ALERT_FIELDS = (
    "id",
    "kind",
    "signal",
    "entity",
    "from",
    "to",
    "severity",
    "at",
    "raised",
    "acked",
    "announced",
    "unannounced",
    "message",
    "evidence",
)


@click.command()
@format_option()
@tz_option
@click.option(
    "--signal",
    "signal_ids",
    metavar="ID",
    multiple=True,
    help="Show only this signal's rows (repeatable).",
)
@click.option(
    "--changed",
    metavar="WHEN",
    default=None,
    help="Only rows whose state changed since: a date, a time, or a span ago (7d).",
)
@click.pass_context
def status(
    ctx: click.Context, fmt: str, zone: Zone, signal_ids: tuple[str, ...], changed: str | None
) -> None:
    """Every signal and entity: state, since when, last evidence; feed health."""
    workspace = Workspace.for_reading(ctx.obj["config_path"])
    wanted = {workspace.outline(signal_id).id for signal_id in signal_ids}
    since = moment_from(changed, zone, "--changed")
    with workspace.reader() as db:
        stored = {(s.signal, s.entity): s for s in reads.signal_states(db)}
        moved = reads.changed_since(db, since) if since is not None else None
        rows: list[_StatusRecord] = []
        for signal in workspace.outlines:
            if wanted and signal.id not in wanted:
                continue
            for entity in signal.entities or ("",):
                if moved is not None and (signal.id, entity) not in moved:
                    continue
                row = stored.get((signal.id, entity))
                latest = reads.latest_evidence(db, signal.id, entity)
                rows.append(
                    {
                        "signal": signal.id,
                        "entity": entity or None,
                        "state": row.state if row else signal.initial,
                        "since": iso(row.since) if row else None,
                        # Occurrence.to_json: event, label, place, date, start.
                        "occurrence": row.occurrence if row else None,
                        "last_evidence": _evidence_json(latest),
                    }
                )
        sources = reads.list_sources(db, workspace.view.source_names)
        alerts = reads.list_alerts(db, unacked=True, limit=20)
        why = _why_unannounced(db, workspace)
        digests = reads.list_subscribers(db, active_only=True)
    failing = [s for s in sources if s.consecutive_failures]
    if fmt != "table":
        echo_records(rows, fmt, STATUS_FIELDS)
        return
    # The occurrence column only where some state is tied to a recurring event.
    tied = any(r["occurrence"] for r in rows)
    if rows:
        echo_table(
            [
                "signal",
                "entity",
                "state",
                zone.label("since"),
                *(["occurrence"] if tied else []),
                "last evidence",
            ],
            [
                [
                    r["signal"],
                    r["entity"],
                    r["state"],
                    zone.when(r["since"]),
                    *([_occurrence_title(r["occurrence"])] if tied else []),
                    _evidence_line(r["last_evidence"]),
                ]
                for r in rows
            ],
            shorten=("occurrence", "last evidence"),
        )
    else:
        click.echo(f"no state changed since {zone.when(since)} {zone.name}")
    click.echo()
    echo(
        f"feeds: {len(sources)} configured, {len(sources) - len(failing)} healthy,"
        f" {len(failing)} failing" + _failing_names(failing)
    )
    for line in _digest_health(digests, zone):
        echo(line)
    known = {s.id for s in workspace.outlines}
    for problem in subscriber_problems(workspace.view, digests, known):
        echo(f"  warning: {problem}")
    if alerts:
        click.echo()
        click.echo(f"unacknowledged alerts ({len(alerts)} newest, times in {zone.name}):")
        for alert in alerts:
            echo(f"  #{alert.id} {zone.when(alert.at)} [{alert.severity}] {_marked(alert, why)}")


def _failing_names(failing: list[SourceRecord]) -> str:
    """The failing sources' names, the first few only when there are many."""
    if len(failing) <= FAILING_LISTED:
        return f" ({', '.join(s.name for s in failing)})" if failing else ""
    first = ", ".join(s.name for s in failing[:FAILING_LISTED])
    return f" (the first {FAILING_LISTED}: {first}; `allywatch feeds` lists them all)"


def _digest_health(active: list[SubscriberRecord], zone: Zone) -> list[str]:
    """Lines for `status`: how many subscribers, and each digest the mail server refused."""
    if not active:
        return []
    failing = [s for s in active if s.failures]
    lines = [f"digests: {plural(len(active), 'subscriber')}, {len(failing)} failing"]
    for s in failing:
        lines.append(
            f"  {s.email}: {plural(s.failures, 'failed attempt')},"
            f" next {zone.when(s.next_attempt_at)} {zone.name}: {s.last_error}"
        )
    return lines


class _Evidence(TypedDict):
    """The newest evidence of a state, as `status` gives it."""

    state: str
    polarity: str
    published: str | None  # always set: a stored observation has its time
    outlet: str
    title: str
    link: str


class _StatusRecord(TypedDict):
    """A signal's (or an entity's) row of `status` (STATUS_FIELDS)."""

    signal: str
    entity: str | None
    state: str
    since: str | None
    occurrence: dict[str, Any] | None  # Occurrence.to_json
    last_evidence: _Evidence | None


def _evidence_json(latest: Observation | None) -> _Evidence | None:
    if latest is None:
        return None
    return {
        "state": latest.state,
        "polarity": latest.polarity,
        "published": iso(latest.published),
        "outlet": latest.outlet,
        "title": latest.title,
        "link": latest.link,
    }


def _occurrence_title(occurrence: dict[str, Any] | None) -> str:
    return Occurrence.from_json(occurrence).title if occurrence else "-"


def _evidence_line(evidence: _Evidence | None) -> str:
    if evidence is None:
        return "-"
    day = (evidence["published"] or "")[:10]
    return f"{day} {evidence['outlet']}: {evidence['title']}"


@click.command()
@click.argument("signal")
@click.argument("entity", required=False)
@format_option()
@tz_option
@click.pass_context
def history(ctx: click.Context, signal: str, entity: str | None, fmt: str, zone: Zone) -> None:
    """The signal's transitions (only ENTITY's, if given), newest first, with the articles
    behind each."""
    from allywatch.store import queries
    from allywatch.store.engine import reading

    workspace = Workspace.open(ctx.obj["config_path"])
    chosen = entity_named(workspace.outline(signal), entity)
    with reading(workspace.engine) as session:
        transitions = queries.transitions_for(session, signal, chosen)
    data = [
        {
            "signal": t.signal,
            "entity": t.entity or None,
            "from": t.from_state,
            "to": t.to_state,
            "at": iso(t.at),
            "reason": t.reason,
            "occurrence": t.occurrence,
            "evidence": t.evidence,
        }
        for t in transitions
    ]
    if fmt != "table":
        echo_records(data, fmt, HISTORY_FIELDS)
        return
    if not data:
        click.echo(f"{signal}{' / ' + chosen if chosen else ''}: no transitions yet")
        return
    for t in transitions:
        subject = f" {t.entity}" if t.entity else ""
        why = "" if t.reason in ("evidence", "count") else f" ({t.reason})"
        event = f" — {_occurrence_title(t.occurrence)}" if t.occurrence else ""
        echo(f"{zone.when(t.at)} {zone.name}{subject}: {t.from_state} -> {t.to_state}{why}{event}")
        for item in t.evidence:
            against = " [against]" if item.get("polarity") == "against" else ""
            echo(
                f"    {item['published'][:10]} {item['outlet']}: {item['title']}{against}"
                f" <{item['link']}>"
            )


@click.command(name="alerts")
@format_option("atom")
@tz_option
@click.option("--signal", "signal_id", metavar="ID", default=None, help="Only this signal's.")
@since_option
@click.option("--unacked", is_flag=True, help="Only alerts not yet acknowledged.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_context
def alerts_command(
    ctx: click.Context,
    fmt: str,
    zone: Zone,
    signal_id: str | None,
    since: str | None,
    unacked: bool,
    limit: int,
) -> None:
    """Alerts raised, newest first.

    --format atom prints the announced ones as an Atom feed (what the report's
    alerts.xml holds).
    """
    workspace = Workspace.for_reading(ctx.obj["config_path"])
    signal = workspace.outline(signal_id).id if signal_id is not None else None
    start = moment_from(since, zone, "--since")
    with workspace.reader() as db:
        alerts = reads.list_alerts(db, unacked=unacked, limit=limit, signal=signal, since=start)
        why = _why_unannounced(db, workspace)
    if fmt == "atom":
        from allywatch.alerts.atom import alerts_feed
        from allywatch.digests import signal_texts

        announced = [a for a in alerts if a.announced]
        feed = alerts_feed(announced, signal_texts(workspace), datetime.now(UTC))
        click.echo(feed.decode("utf-8"), nl=False)
        return
    if fmt != "table":
        records = [
            {
                "id": a.id,
                "kind": a.kind,
                "signal": a.signal,
                "entity": a.entity or None,
                "from": a.from_state,
                "to": a.to_state,
                "severity": a.severity,
                "at": iso(a.at),
                "raised": iso(a.created_at),
                "acked": iso(a.acked_at),
                "announced": a.announced,
                "unannounced": why(a),
                "message": a.message,
                "evidence": a.evidence,
            }
            for a in alerts
        ]
        echo_records(records, fmt, ALERT_FIELDS)
        return
    if not alerts:
        click.echo("no alerts")
        return
    echo_table(
        ["id", zone.label("at"), "severity", "alert", "announced", zone.label("acked")],
        [
            [
                a.id,
                zone.when(a.at),
                a.severity,
                a.message,
                why(a) or "yes",
                zone.when(a.acked_at),
            ]
            for a in alerts
        ],
        wrap=("alert", "announced"),
    )


def _why_unannounced(db: Database, workspace: Workspace) -> Callable[[AlertRecord], str | None]:
    """Why an alert was not announced (see alerts.unannounced); None if it was."""
    config = workspace.view
    baseline = None if config.alert_on_first_run else reads.first_run_started(db)

    def why(alert: AlertRecord) -> str | None:
        return unannounced_reason(alert, baseline, config.announce_within)

    return why


def _marked(alert: AlertRecord, why: Callable[[AlertRecord], str | None]) -> str:
    """An alert's message, marked when it was recorded without being announced."""
    reason = why(alert)
    return f"{alert.message} ({reason})" if reason else alert.message


@click.command()
@click.argument("alert_id", type=int, required=False)
@click.option("--all", "every", is_flag=True, help="Acknowledge every unacknowledged alert.")
@click.pass_context
def ack(ctx: click.Context, alert_id: int | None, every: bool) -> None:
    """Acknowledge alert ALERT_ID, or --all of them."""
    if (alert_id is None) == (not every):
        raise click.UsageError("give an ALERT_ID or --all")
    from allywatch.store import queries
    from allywatch.store.engine import writing

    workspace = Workspace.open(ctx.obj["config_path"])
    now = datetime.now(UTC)
    with writing(workspace.engine) as session:
        if every:
            count = queries.ack_all_alerts(session, now)
            click.echo(f"acknowledged {plural(count, 'alert')}")
            return
        assert alert_id is not None  # given without --all (checked above)
        alert = queries.ack_alert(session, alert_id, now)
        if alert is None:
            raise click.ClickException(f"no alert #{alert_id}")
        echo(f"acknowledged #{alert.id}: {alert.message}")


def moment_from(text: str | None, zone: Zone, option: str) -> datetime | None:
    """The moment a `--since`-like option names: an ISO date or time (in `zone` unless it
    gives an offset), or a span before now such as 7d or 12h."""
    if text is None:
        return None
    try:
        return datetime.now(UTC) - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a date or time (2025-01-06, 2025-01-06T10:00) nor a span (7d)",
            param_hint=option,
        ) from None
    return moment.replace(tzinfo=zone.tz) if moment.tzinfo is None else moment


COMMANDS = [status, history, alerts_command, ack]
