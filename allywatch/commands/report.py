"""Reading the state: `status`, `history`, `alerts`, `ack`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import click
from sqlalchemy.orm import Session

from allywatch.alerts.atom import alerts_feed
from allywatch.alerts.evaluate import unannounced_reason
from allywatch.alerts.occurrences import Occurrence
from allywatch.digests import signal_texts
from allywatch.output import echo, echo_json, echo_table, iso, when
from allywatch.store import queries, subscribers
from allywatch.store.engine import reading, writing
from allywatch.store.models import Alert, Source
from allywatch.workspace import Workspace

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")

# How many failing sources `status` names before it points to `allywatch feeds`.
FAILING_LISTED = 5


@click.command()
@json_option
@click.option(
    "--signal",
    "signal_ids",
    metavar="ID",
    multiple=True,
    help="Show only this signal's rows (repeatable).",
)
@click.pass_context
def status(ctx: click.Context, as_json: bool, signal_ids: tuple[str, ...]) -> None:
    """Every signal and entity: state, since when, last evidence; feed health."""
    workspace = Workspace.open(ctx.obj["config_path"])
    wanted = {workspace.signal(signal_id).id for signal_id in signal_ids}
    with reading(workspace.engine) as session:
        stored = {(s.signal, s.entity): s for s in queries.signal_states(session)}
        rows = []
        for signal in workspace.signals:
            if wanted and signal.id not in wanted:
                continue
            for entity in signal.entities or ("",):
                row = stored.get((signal.id, entity))
                latest = queries.latest_evidence(session, signal.id, entity)
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
        sources = queries.list_sources(session, [s.name for s in workspace.config.sources])
        alerts = queries.list_alerts(session, unacked=True, limit=20)
        why = _why_unannounced(session, workspace)
        digests = _digest_health(session)
    failing = [s for s in sources if s.consecutive_failures]
    if as_json:
        echo_json(rows)
        return
    # The occurrence column only where some state is tied to a recurring event.
    tied = any(r["occurrence"] for r in rows)
    echo_table(
        ["signal", "entity", "state", "since", *(["occurrence"] if tied else []), "last evidence"],
        [
            [
                r["signal"],
                r["entity"],
                r["state"],
                r["since"][:16].replace("T", " ") if r["since"] else "-",
                *([_occurrence_title(r["occurrence"])] if tied else []),
                _evidence_line(r["last_evidence"]),
            ]
            for r in rows
        ],
    )
    click.echo()
    echo(
        f"feeds: {len(sources)} configured, {len(sources) - len(failing)} healthy,"
        f" {len(failing)} failing" + _failing_names(failing)
    )
    for line in digests:
        click.echo(line)
    if alerts:
        click.echo()
        click.echo(f"unacknowledged alerts ({len(alerts)} newest):")
        for alert in alerts:
            echo(f"  #{alert.id} {when(alert.at)} [{alert.severity}] {_marked(alert, why)}")


def _failing_names(failing: list[Source]) -> str:
    """The failing sources' names, the first few only when there are many."""
    if len(failing) <= FAILING_LISTED:
        return f" ({', '.join(s.name for s in failing)})" if failing else ""
    first = ", ".join(s.name for s in failing[:FAILING_LISTED])
    return f" (the first {FAILING_LISTED}: {first}; `allywatch feeds` lists them all)"


def _digest_health(session: Session) -> list[str]:
    """Lines for `status`: how many subscribers, and each digest the mail server refused."""
    active = subscribers.list_subscribers(session, active_only=True)
    if not active:
        return []
    failing = [s for s in active if s.failures]
    lines = [f"digests: {len(active)} subscribers, {len(failing)} failing"]
    for s in failing:
        retry = s.next_attempt_at.strftime("%Y-%m-%d %H:%M") if s.next_attempt_at else "-"
        lines.append(f"  {s.email}: {s.failures} failed attempts, next {retry}: {s.last_error}")
    return lines


def _evidence_json(latest) -> dict | None:
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


def _occurrence_title(occurrence: dict | None) -> str:
    return Occurrence.from_json(occurrence).title if occurrence else "-"


def _evidence_line(evidence: dict | None) -> str:
    if evidence is None:
        return "-"
    return f"{evidence['published'][:10]} {evidence['outlet']}: {evidence['title']}"


@click.command()
@click.argument("signal")
@json_option
@click.pass_context
def history(ctx: click.Context, signal: str, as_json: bool) -> None:
    """The signal's transitions, newest first."""
    workspace = Workspace.open(ctx.obj["config_path"])
    workspace.signal(signal)
    with reading(workspace.engine) as session:
        transitions = queries.transitions_for(session, signal)
    data = [
        {
            "signal": t.signal,
            "entity": t.entity or None,
            "from": t.from_state,
            "to": t.to_state,
            "at": iso(t.at),
            "reason": t.reason,
            "evidence": t.evidence,
        }
        for t in transitions
    ]
    if as_json:
        echo_json(data)
        return
    if not data:
        click.echo(f"{signal}: no transitions yet")
        return
    for t in transitions:
        entity = f" {t.entity}" if t.entity else ""
        why = "" if t.reason in ("evidence", "count") else f" ({t.reason})"
        echo(f"{when(t.at)}{entity}: {t.from_state} -> {t.to_state}{why}")
        for item in t.evidence:
            against = " [against]" if item.get("polarity") == "against" else ""
            echo(
                f"    {item['published'][:10]} {item['outlet']}: {item['title']}{against}"
                f" <{item['link']}>"
            )


@click.command(name="alerts")
@json_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "atom"]),
    default="table",
    show_default=True,
    help="atom: the announced alerts as an Atom feed (what the report's alerts.xml holds).",
)
@click.option("--unacked", is_flag=True, help="Only alerts not yet acknowledged.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_context
def alerts_command(ctx: click.Context, as_json: bool, fmt: str, unacked: bool, limit: int) -> None:
    """Alerts raised, newest first."""
    workspace = Workspace.open(ctx.obj["config_path"])
    with reading(workspace.engine) as session:
        alerts = queries.list_alerts(session, unacked=unacked, limit=limit)
        why = _why_unannounced(session, workspace)
    if fmt == "atom":
        announced = [a for a in alerts if a.announced]
        feed = alerts_feed(announced, signal_texts(workspace), datetime.now(UTC))
        click.echo(feed.decode("utf-8"), nl=False)
        return
    if as_json or fmt == "json":
        echo_json(
            [
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
        )
        return
    if not alerts:
        click.echo("no alerts")
        return
    echo_table(
        ["id", "at", "severity", "alert", "announced", "acked"],
        [
            [a.id, when(a.at), a.severity, a.message, why(a) or "yes", when(a.acked_at)]
            for a in alerts
        ],
    )


def _why_unannounced(session: Session, workspace: Workspace) -> Callable[[Alert], str | None]:
    """Why an alert was not announced (see alerts.evaluate.unannounced_reason); None if it was."""
    first_run = queries.first_run_started(session)
    within = workspace.config.announce_within
    return lambda alert: unannounced_reason(alert, first_run, within)


def _marked(alert: Alert, why: Callable[[Alert], str | None]) -> str:
    """An alert's message, marked when it was recorded without being announced."""
    reason = why(alert)
    return f"{alert.message} ({reason})" if reason else alert.message


@click.command()
@click.argument("alert_id", type=int)
@click.pass_context
def ack(ctx: click.Context, alert_id: int) -> None:
    """Acknowledge an alert."""
    workspace = Workspace.open(ctx.obj["config_path"])
    with writing(workspace.engine) as session:
        alert = queries.ack_alert(session, alert_id, datetime.now(UTC))
        if alert is None:
            raise click.ClickException(f"no alert #{alert_id}")
        echo(f"acknowledged #{alert.id}: {alert.message}")


COMMANDS = [status, history, alerts_command, ack]
