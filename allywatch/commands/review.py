"""`allywatch review`: the review queue, where analysts turn misses into tests.

allywatch review [SIGNAL] [--json]       near-misses (newest first) and states near a threshold
allywatch review label ID STATE|none     record a verdict on a near-miss or a report
allywatch review export [SIGNAL]         write the verdicts as tests beside the signal file
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from allywatch.labels import LabelsFileError, append_tests
from allywatch.language.loader import labels_path
from allywatch.language.model import NO_MATCH, Signal
from allywatch.language.records import MatchedTerm
from allywatch.output import echo, echo_json, iso
from allywatch.review import NearThreshold, near_thresholds
from allywatch.store import review as queue
from allywatch.store.engine import writing
from allywatch.workspace import Workspace

LISTED = 50  # near-misses listed by default


class _ListByDefault(click.Group):
    """`review label ...` and `review export ...` are subcommands; anything else
    (`review`, `review SIGNAL --json`) lists the queue."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] in self.commands:
            return super().resolve_command(ctx, args)
        return "list", show, args


def _words(words: tuple[MatchedTerm, ...]) -> str:
    """Matched words as `list=text`, each once, in the order they stood."""
    return ", ".join(dict.fromkeys(f"{w.term}={w.text}" for w in words))


def _signals(workspace: Workspace, signal_id: str | None) -> list[Signal]:
    chosen = [workspace.signal(signal_id)] if signal_id else workspace.signals
    return [s for s in chosen if s.aggregate is None]


@click.command(name="list")
@click.argument("signal_id", metavar="[SIGNAL]", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=LISTED, show_default=True, help="Near-misses listed at most.")
@click.pass_context
def show(ctx: click.Context, signal_id: str | None, as_json: bool, limit: int) -> None:
    """The review queue: near-misses and states near a threshold."""
    workspace = Workspace.open(ctx.find_root().obj["config_path"])
    signals = _signals(workspace, signal_id)
    ids = [s.id for s in signals]
    with writing(workspace.engine) as session:
        thresholds = near_thresholds(session, signals)
        kept = _keep_reports(session, thresholds, datetime.now(UTC))
        queue.drop_unlabelled_reports(session, ids, set(kept.values()))
        items = queue.open_items(session, ids, limit, kind=queue.NEAR_MISS)
        total = queue.count_open(session, ids, kind=queue.NEAR_MISS)
    if as_json:
        echo_json(
            {
                "near_misses": [_item_json(item) for item in items],
                "open": total,
                "near_threshold": [_threshold_json(t, kept) for t in thresholds],
            }
        )
        return
    _print(items, total, thresholds, kept)


def _keep_reports(
    session: Session, thresholds: list[NearThreshold], now: datetime
) -> dict[tuple[str, str], int]:
    """Keep the reports of states near a threshold as review items, so that they can be
    labelled; map (signal, link) to each one's item id."""
    kept = {}
    for found in thresholds:
        ids = queue.keep_reports(
            session, now, found.signal, found.entity, found.state, found.reports
        )
        kept.update({(found.signal, link): item for link, item in ids.items()})
    return kept


def _item_json(item: queue.Reviewed) -> dict[str, Any]:
    return {
        "id": item.id,
        "signal": item.signal,
        "entity": item.entity,
        "published": iso(item.published),
        "outlet": item.outlet,
        "title": item.title,
        "link": item.link,
        "words": [w.to_json() for w in item.words],
    }


def _threshold_json(found: NearThreshold, kept: dict[tuple[str, str], int]) -> dict[str, Any]:
    return {
        "signal": found.signal,
        "entity": found.entity,
        "state": found.state,
        "outlets": found.outlets,
        "needs": found.needs,
        "reports": [
            {
                "id": kept.get((found.signal, o.link)),
                "published": iso(o.published),
                "outlet": o.outlet,
                "title": o.title,
                "link": o.link,
                "words": list(o.words()),
            }
            for o in found.reports
        ],
    }


def _print(
    items: list[queue.Reviewed],
    total: int,
    thresholds: list[NearThreshold],
    kept: dict[tuple[str, str], int],
) -> None:
    if not items:
        click.echo("No near-misses to review.")
    else:
        shown = f"the newest {len(items)} of {total}" if total > len(items) else str(total)
        click.echo(f"Near-misses, newest first ({shown}); `review label ID STATE|none` judges one")
    for item in items:
        entity = f" / {item.entity}" if item.entity else ""
        echo(f"#{item.id}  {item.published:%Y-%m-%d}  {item.signal}{entity}  {item.outlet}")
        echo(f"  {item.title or '(no title)'}")
        echo(f"  words: {_words(item.words) or '-'}")
        if item.link:
            echo(f"  <{item.link}>")
    if thresholds:
        click.echo()
        click.echo(
            "Near a threshold (reported, short of the outlets needed);"
            " `review label ID STATE|none` judges a report"
        )
    for found in thresholds:
        entity = f" / {found.entity}" if found.entity else ""
        echo(f"{found.signal}{entity}: {found.state}, {found.outlets} of {found.needs} outlets")
        for o in found.reports:
            words = ", ".join(o.words())
            item_id = kept.get((found.signal, o.link))
            handle = f"#{item_id} " if item_id is not None else ""
            echo(f"  {handle}{o.published:%Y-%m-%d} {o.outlet}: {o.title}  [{words}] <{o.link}>")


@click.group(
    name="review",
    cls=_ListByDefault,
    invoke_without_command=True,
    subcommand_metavar="[SIGNAL] [--json] [--limit N] | label ID STATE | export [SIGNAL]",
    context_settings={"ignore_unknown_options": True},
)
@click.pass_context
def review(ctx: click.Context) -> None:
    """Articles kept for review, and verdicts on them that become tests.

    A near-miss is an article that meets a signal's `subject` but evidences none
    of its states; a state near a threshold is reported by fewer outlets than it
    needs. `review [SIGNAL]` lists both, near-misses newest first with the words
    that matched, each report near a threshold with its id; `review label ID
    STATE|none` records a verdict on either;
    `review export` writes the verdicts as tests into each signal's labels file,
    which `allywatch signals test` runs.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(show)


@review.command(short_help="Record a verdict: the state an article evidences, or none.")
@click.argument("item_id", metavar="ID")
@click.argument("verdict", metavar="STATE|none")
@click.pass_context
def label(ctx: click.Context, item_id: str, verdict: str) -> None:
    """Record a verdict on item ID (a near-miss or a report near a threshold): the state
    the article evidences, or none.

    `none` (or `no-match`) says the article evidences no state of the signal: its
    test will expect no match. A state's test expects that state (for the entity
    the near-miss names, if one).
    """
    workspace = Workspace.open(ctx.find_root().obj["config_path"])
    with writing(workspace.engine) as session:
        item = queue.get_item(session, int(item_id)) if item_id.isdigit() else None
        if item is None:
            raise click.ClickException(f"no review item #{item_id} (see `allywatch review`)")
        signal = workspace.signal(item.signal)
        if verdict in (queue.NO_STATE, NO_MATCH):
            verdict = queue.NO_STATE
        elif verdict not in signal.state_names():
            states = ", ".join(signal.state_names())
            raise click.ClickException(
                f"{signal.id} has no state {verdict!r} (states: {states}; or none)"
            )
        queue.set_verdict(item, verdict, datetime.now(UTC))
    click.echo(f"#{item_id} {signal.id}: {verdict}; `allywatch review export` writes it as a test")


@review.command(short_help="Write the verdicts as tests into the signals' labels files.")
@click.argument("signal_id", metavar="[SIGNAL]", required=False)
@click.option(
    "--to",
    "target",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write into FILE (needs SIGNAL) instead of the labels file beside the signal file.",
)
@click.pass_context
def export(ctx: click.Context, signal_id: str | None, target: Path | None) -> None:
    """Append the verdicts not exported yet as tests to each signal's labels file.

    The labels file of signals/su35-iran.yaml is signals/su35-iran.labels.yaml;
    `allywatch signals test` runs its tests with the signal file's own.
    """
    if target is not None and signal_id is None:
        raise click.UsageError("--to writes one signal's tests: name the SIGNAL")
    workspace = Workspace.open(ctx.find_root().obj["config_path"])
    now = datetime.now(UTC)
    written = 0
    for signal in _signals(workspace, signal_id):
        with writing(workspace.engine) as session:
            items = queue.unexported(session, signal.id)
            if not items:
                continue
            path = target or labels_path(signal.path)
            try:
                added = append_tests(signal, items, path)
            except LabelsFileError as exc:
                raise click.ClickException(str(exc)) from None
            except OSError as exc:
                hint = "" if target else " (--to FILE writes elsewhere)"
                reason = exc.strerror or exc
                message = f"{path}: cannot write the tests: {reason}{hint}"
                raise click.ClickException(message) from None
            queue.mark_exported(session, [item.id for item in items], now)
        written += len(added)
        click.echo(f"{path}: {len(added)} test(s) added ({len(items) - len(added)} known already)")
    if not written:
        click.echo("no new verdicts to export")


COMMANDS = [review]
