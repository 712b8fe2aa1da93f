"""`allywatch backtest`: replay an archive of dated articles through today's signals, in memory.

Articles are taken in publication order, as a live run would have met them:
plain text, grouped into stories, matched, and the resulting observations
replayed by the rules engine. A transition's time is replay time (when the
evidence completed, plus any hold), never the wall clock.

Each article's `source` gives its observations the tier of the configured
source of that name (else "other"), which the replay weighs as a cycle does.

With expectations (a list of {signal, entity, to, at}) the transitions found
are paired with the expected ones: each expected transition takes the
earliest found one of the same signal, entity and state within the
tolerance (found, and late when after its expected time); what is left over
is missed (expected) or false (found).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from allywatch.alerts.rules import Change, replay_all
from allywatch.alerts.tier_weights import DEFAULT_TIER_WEIGHTS
from allywatch.cycle import KnownArticles, dedup, match
from allywatch.language.model import Signal
from allywatch.language.records import Article, Observation
from allywatch.watchers.article_file import ArticleFileError, read_article_file
from allywatch.watchers.dedup import StoryGrouper, fingerprint
from allywatch.watchers.matcher import Matcher


class BacktestError(Exception):
    """An archive or expectations file that cannot be used; names the file and line."""


@dataclass(frozen=True)
class Expected:
    signal: str
    entity: str | None
    to: str
    at: datetime


@dataclass(frozen=True)
class Comparison:
    found: list[tuple[Expected, Change]]
    missed: list[Expected]
    false: list[Change]


def read_archive(path: Path, text: str | None = None) -> list[Article]:
    """The articles of a JSON Lines archive, each dated; `text` when it was read already
    (stdin)."""
    try:
        return read_article_file(path, text)
    except ArticleFileError as exc:
        raise BacktestError(str(exc)) from None


def _time(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO-8601 text or a YAML date/datetime; naive means UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def backtest(
    signals: Sequence[Signal],
    articles: Iterable[Article],
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    tiers: Mapping[str, str] | None = None,
    weights: Mapping[str, int] = DEFAULT_TIER_WEIGHTS,
) -> list[Change]:
    """The transitions the archive yields, in time order.

    The replay runs to `until`, else to the newest article, so expiries and
    holds that fall after the archive ends are not reported unless asked for.
    `tiers` maps source names to their tiers, `weights` tiers to their weights.
    """
    tiers = tiers or {}
    matcher = Matcher(signals)
    grouper = StoryGrouper()
    known = KnownArticles()  # the same article twice in the archive counts once, as live
    observations: dict[str, list[Observation]] = {s.id: [] for s in signals}
    newest: datetime | None = None
    for article in sorted(articles, key=lambda a: a.published):
        if progress is not None:
            progress(1)
        parsed = [(article, fingerprint(article.title, article.summary))]
        for new in match(matcher, dedup(parsed, known)):
            newest = article.published if newest is None else max(newest, article.published)
            story = grouper.add_fingerprint(article.uid, new.fingerprint)
            tier = tiers.get(article.source, "other")
            for obs in new.observations:
                placed = obs.in_article(article, story)._replace(tier=tier)
                observations.setdefault(obs.signal, []).append(placed)
    now = until or newest
    if now is None:
        return []
    timelines = replay_all(
        signals, lambda signal_id: observations.get(signal_id, []), now, weights=weights
    )
    changes = [c for group in timelines.values() for t in group for c in t.changes]
    aggregates = {s.id for s in signals if s.aggregate is not None}
    return sorted(changes, key=lambda c: (c.at, c.signal in aggregates, c.signal, c.entity or ""))


def change_json(change: Change) -> dict[str, Any]:
    return {
        "signal": change.signal,
        "entity": change.entity,
        "from": change.from_state,
        "to": change.to_state,
        "at": change.at.isoformat(),
        "evidence": [e.link for e in change.evidence],
    }


def read_expectations(path: Path, signals: Sequence[Signal]) -> list[Expected]:
    """Expected transitions from a JSON or YAML list of {signal, entity, to, at}.

    Every one must name a signal among `signals`, one of its entities (none when
    it has none) and one of its states: a misspelt expectation would otherwise
    only ever be "missed". Errors name the file and the item's line.
    """
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
        items = yaml.compose(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise BacktestError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise BacktestError(f"{path}: not valid JSON or YAML: {exc}") from exc
    if not isinstance(raw, list) or not isinstance(items, yaml.SequenceNode):
        raise BacktestError(f"{path}: expected a list of {{signal, entity, to, at}}")
    by_id = {s.id: s for s in signals}
    return [
        _expected(item, by_id, f"{path}:{node.start_mark.line + 1}")
        for item, node in zip(raw, items.value, strict=True)
    ]


def _expected(item: object, signals: Mapping[str, Signal], where: str) -> Expected:
    """One expectation, checked against the signals; `where` is its file and line."""
    if not isinstance(item, dict):
        raise BacktestError(f"{where}: expected a mapping with signal, entity, to, at")
    unknown = set(item) - {"signal", "entity", "to", "at"}
    if unknown:
        raise BacktestError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    for key in ("signal", "to"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise BacktestError(f"{where}: `{key}` must be a non-empty string")
    entity = item.get("entity")
    if entity is not None and not isinstance(entity, str):
        raise BacktestError(f"{where}: `entity` must be a string or null")
    at = _time(item.get("at"))
    if at is None:
        raise BacktestError(f"{where}: `at` must be an ISO-8601 date or time")
    signal = signals.get(item["signal"])
    if signal is None:
        known = ", ".join(sorted(signals))
        raise BacktestError(f"{where}: unknown signal {item['signal']!r} (signals: {known})")
    if item["to"] not in signal.state_names():
        states = ", ".join(signal.state_names())
        raise BacktestError(f"{where}: {signal.id} has no state {item['to']!r} (states: {states})")
    return Expected(signal.id, _entity(signal, entity or None, where), item["to"], at)


def _entity(signal: Signal, name: str | None, where: str) -> str | None:
    """The signal's own spelling of `name` (given in any case); None for a signal without
    entities."""
    if not signal.entities:
        if name is not None:
            raise BacktestError(f"{where}: {signal.id} has no entities, got entity {name!r}")
        return None
    known = ", ".join(signal.entities)
    if name is None:
        raise BacktestError(f"{where}: {signal.id} needs an entity (one of {known})")
    spelt = next((e for e in signal.entities if e.lower() == name.lower()), None)
    if spelt is None:
        raise BacktestError(f"{where}: {signal.id} has no entity {name!r} (entities: {known})")
    return spelt


def compare(
    changes: Sequence[Change], expected: Sequence[Expected], tolerance: timedelta
) -> Comparison:
    """Pair expected transitions with found ones (see the module docstring)."""
    free = list(changes)
    found: list[tuple[Expected, Change]] = []
    missed: list[Expected] = []
    for want in sorted(expected, key=lambda e: e.at):
        match = next(
            (
                c
                for c in free
                if c.signal == want.signal
                and (c.entity or None) == want.entity
                and c.to_state == want.to
                and abs(c.at - want.at) <= tolerance
            ),
            None,
        )
        if match is None:
            missed.append(want)
        else:
            free.remove(match)
            found.append((want, match))
    return Comparison(found, missed, free)


def days_late(want: Expected, change: Change) -> float:
    """How many days after the expected time the transition was found (negative: early)."""
    return round((change.at - want.at) / timedelta(days=1), 1)
