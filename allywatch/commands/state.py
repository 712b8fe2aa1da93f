"""Looking into and steering state: `explain`, `silence`, `backtest`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from allywatch.alerts.rules import Change
from allywatch.backtest import (
    BacktestError,
    Comparison,
    Expected,
    backtest,
    change_json,
    compare,
    days_late,
    read_archive,
    read_expectations,
)
from allywatch.commands.entities import entity_named
from allywatch.config import load_config
from allywatch.errors import ConfigError
from allywatch.explain import as_json as explanation_json
from allywatch.explain import explain, render
from allywatch.language.durations import format_duration, parse_duration
from allywatch.output import UTC_ZONE, echo, echo_json, echo_table
from allywatch.store.engine import reading, writing
from allywatch.store.silences import add_silence, list_silences, remove_silence
from allywatch.workspace import Workspace

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")

# `backtest --expect`: some expected transition was missed, or one not expected was found.
EXIT_MISMATCH = 3


@click.command(name="explain")
@click.argument("signal_id", metavar="SIGNAL")
@click.argument("entity", required=False)
@json_option
@click.pass_context
def explain_command(ctx: click.Context, signal_id: str, entity: str | None, as_json: bool) -> None:
    """The current state, the articles and matched words behind it, and what would change it.

    Without ENTITY, a signal with entities is explained entity by entity.
    """
    workspace = Workspace.open(ctx.obj["config_path"])
    signal = workspace.signal(signal_id)
    chosen = entity_named(signal, entity)
    members_of = workspace.signal(signal.aggregate.of) if signal.aggregate else None
    entities: list[str | None] = [chosen] if chosen else list(signal.entities) or [None]
    with reading(workspace.engine) as session:
        found = [explain(session, signal, name, members_of) for name in entities]
    if as_json:
        echo_json(
            [explanation_json(e) for e in found] if len(found) > 1 else explanation_json(found[0])
        )
        return
    for index, explanation in enumerate(found):
        if index:
            click.echo()
        for line in render(explanation):
            echo(line)  # titles, places and matched words are feed text


@click.command()
@click.argument("target", metavar="[SIGNAL[/ENTITY]]", required=False)
@click.option("--for", "duration", default="7d", show_default=True, help="How long: 12h, 7d, 2w.")
@click.option("--note", default="", help="Why (shown by --list).")
@click.option("--list", "show", is_flag=True, help="List the silences in force.")
@click.option("--remove", "remove_id", type=int, default=None, help="End silence ID now.")
@json_option
@click.pass_context
def silence(
    ctx: click.Context,
    target: str | None,
    duration: str,
    note: str,
    show: bool,
    remove_id: int | None,
    as_json: bool,
) -> None:
    """Keep a signal's (or one entity's) transitions recorded but unannounced for a while.

    \b
    allywatch silence su35-iran --for 3d
    allywatch silence csto-summit-attendance/Armenia --for 2w --note "known boycott"
    allywatch silence --list
    allywatch silence --remove 4
    """
    workspace = Workspace.open(ctx.obj["config_path"])
    now = datetime.now(UTC)
    if sum(bool(x) for x in (target, show, remove_id is not None)) != 1:
        raise click.UsageError("give SIGNAL[/ENTITY], or --list, or --remove ID")
    if show:
        with reading(workspace.engine) as session:
            silences = list_silences(session, now)
        if as_json:
            echo_json(
                [
                    {
                        "id": s.id,
                        "signal": s.signal,
                        "entity": s.entity or None,
                        "until": s.until.isoformat(),
                        "note": s.note,
                    }
                    for s in silences
                ]
            )
        elif not silences:
            click.echo("no silences in force")
        else:
            echo_table(
                ["id", "signal", "entity", UTC_ZONE.label("until"), "note"],
                [[s.id, s.signal, s.entity, UTC_ZONE.when(s.until), s.note] for s in silences],
                shorten=("note",),
            )
        return
    if remove_id is not None:
        with writing(workspace.engine) as session:
            removed = remove_silence(session, remove_id)
            if removed is None:
                raise click.ClickException(f"no silence #{remove_id}")
        click.echo(f"removed silence #{remove_id}")
        return
    assert target is not None
    signal_id, _, entity_name = target.partition("/")
    signal = workspace.signal(signal_id)
    entity = entity_named(signal, entity_name or None)
    try:
        length = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--for") from None
    if length <= timedelta(0):
        raise click.BadParameter("must be longer than zero", param_hint="--for")
    with writing(workspace.engine) as session:
        added = add_silence(session, signal.id, entity or "", now + length, now, note)
    subject = f"{signal.id}/{entity}" if entity else signal.id
    click.echo(
        f"silence #{added.id}: {subject} unannounced for {format_duration(length)}"
        f" (until {UTC_ZONE.when(added.until)} UTC)"
    )


@click.command(name="backtest")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@json_option
@click.option(
    "--expect",
    "expect_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Expected transitions (JSON or YAML list of {signal, entity, to, at}).",
)
@click.option(
    "--tolerance",
    default="30d",
    show_default=True,
    help="How far from its expected time a transition still counts as found.",
)
@click.option(
    "--until",
    default=None,
    help="Replay up to this time (ISO-8601) instead of the newest article.",
)
@click.pass_context
def backtest_command(
    ctx: click.Context,
    file: Path,
    as_json: bool,
    expect_path: Path | None,
    tolerance: str,
    until: str | None,
) -> None:
    """Replay dated articles through today's signals and print when each state would change.

    FILE is JSON Lines ("-" for stdin): {"title", "summary", "link", "published", "source"}
    per line. Needs no database. `at` is replay time: the publication time of the article
    that completed the evidence (plus any hold). An article's `source` gives it the tier of
    the configured source of that name (else other).

    With --expect, exit status 3 when an expected transition is missed or one not
    expected is found (1: the files cannot be used, such as an unknown signal, entity
    or state in the expectations).
    """
    config = load_config(ctx.obj["config_path"], required=False)
    signals = Workspace(config).signals
    try:
        window = parse_duration(tolerance)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--tolerance") from None
    end = None
    if until is not None:
        try:
            end = datetime.fromisoformat(until)
        except ValueError:
            raise click.BadParameter(
                f"not an ISO-8601 time: {until!r}", param_hint="--until"
            ) from None
        end = end.replace(tzinfo=UTC) if end.tzinfo is None else end
    try:
        text = sys.stdin.read() if str(file) == "-" else None
        articles = read_archive(file, text)
        expected = read_expectations(expect_path, signals) if expect_path else None
    except BacktestError as exc:
        raise ConfigError(str(exc)) from None
    tiers, weights = config.source_tiers, config.weights_by_name
    if sys.stderr.isatty():
        with click.progressbar(length=len(articles), label="replaying", file=sys.stderr) as bar:
            changes = backtest(signals, articles, end, bar.update, tiers=tiers, weights=weights)
    else:
        changes = backtest(signals, articles, end, tiers=tiers, weights=weights)
    comparison = compare(changes, expected, window) if expected is not None else None
    if as_json:
        transitions = [change_json(c) for c in changes]
        if comparison is None:
            echo_json(transitions)
            return
        echo_json(
            {
                "transitions": transitions,
                "found": [
                    {
                        **change_json(c),
                        "expected_at": w.at.isoformat(),
                        "days_late": days_late(w, c),
                    }
                    for w, c in comparison.found
                ],
                "missed": [
                    {"signal": w.signal, "entity": w.entity, "to": w.to, "at": w.at.isoformat()}
                    for w in comparison.missed
                ],
                "false": [change_json(c) for c in comparison.false],
            }
        )
        sys.exit(_expect_status(comparison))
    if not changes:
        click.echo(f"no transitions in {len(articles)} articles")
    for change in changes:
        subject = f"{change.signal} / {change.entity}" if change.entity else change.signal
        why = "" if change.reason in ("evidence", "count") else f" ({change.reason})"
        click.echo(
            f"{UTC_ZONE.when(change.at)}  {subject}: {change.from_state} -> {change.to_state}{why}"
        )
        for item in change.evidence:
            against = " [against]" if item.polarity == "against" else ""
            click.echo(
                f"    {item.published:%Y-%m-%d} {item.outlet}: {item.title}{against} <{item.link}>"
            )
    if comparison is not None:
        click.echo()
        click.echo(
            f"expected {len(comparison.found) + len(comparison.missed)}:"
            f" {len(comparison.found)} found, {len(comparison.missed)} missed,"
            f" {len(comparison.false)} false"
        )
        click.echo(
            "found: an expected transition happened within --tolerance of its date"
            " (late: after it, early: before it); missed: an expected transition did not"
            " happen; false: a transition happened that nobody expected."
        )
        for want, change in comparison.found:
            click.echo(
                f"  found   {_label(want.signal, want.entity, want.to)} expected"
                f" {want.at:%Y-%m-%d}, at {change.at:%Y-%m-%d} ({_lateness(want, change)})"
            )
        for want in comparison.missed:
            click.echo(
                f"  missed  {_label(want.signal, want.entity, want.to)} expected {want.at:%Y-%m-%d}"
            )
        for change in comparison.false:
            click.echo(
                f"  false   {_label(change.signal, change.entity, change.to_state)}"
                f" at {change.at:%Y-%m-%d}"
            )
        sys.exit(_expect_status(comparison))


def _expect_status(comparison: Comparison) -> int:
    """0 when every expected transition was found and nothing else, else EXIT_MISMATCH."""
    return EXIT_MISMATCH if comparison.missed or comparison.false else 0


def _lateness(want: Expected, change: Change) -> str:
    days = days_late(want, change)
    if days == 0:
        return "on time"
    return f"{abs(days):g} {'day' if abs(days) == 1 else 'days'} {'late' if days > 0 else 'early'}"


def _label(signal: str, entity: str | None, state: str) -> str:
    return f"{signal}{'/' + entity if entity else ''} -> {state}"


COMMANDS = [explain_command, silence, backtest_command]
