"""The HTML report: an index of every signal's state, a page per signal with a timeline
of its states, and alerts.xml (alerts/atom.py), written as static files.

The pages come from templates/report/ with autoescaping; every piece of feed
text is folded to one line (no control or direction-override characters) and
cut to a readable length before it reaches a template, and a link is kept only
when it is http(s) (digest.safe_link). Timelines are inline SVG drawn here, one
rectangle per period a state held, so the pages need no script and no network,
from file:// as from any static web server. Each file is replaced in one step,
so a reader never sees half a page.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy.orm import Session

from allywatch.alerts.atom import alerts_feed
from allywatch.alerts.digest import SignalText, one_line, safe_link
from allywatch.language.model import Signal
from allywatch.store import queries, reads, review
from allywatch.store.models import Transition
from allywatch.store.reads import AlertRecord

TEXT_LIMIT = 300
REVIEW_LISTED = 10  # open near-misses a signal's page lists, newest first
WIDTH = 1000  # the timeline's SVG user units across
# Fill colours of the states in a signal's order (the initial state first); each has
# 3:1 contrast at least against the white page (WCAG 1.4.11).
PALETTE = ("#6b7280", "#1d4ed8", "#b45309", "#b91c1c", "#7c3aed", "#047857", "#0e7490", "#be185d")

# What `explain` says about one entity, as allywatch.explain.as_json gives it.
Explainer = Callable[[Signal, str | None], Mapping[str, Any]]


@dataclass(frozen=True)
class Segment:
    state: str
    start: datetime
    end: datetime
    x: float
    width: float
    colour: str


@dataclass
class EntityView:
    entity: str
    state: str
    since: datetime | None
    last_evidence: dict[str, Any] | None
    segments: list[Segment]
    transitions: list[dict[str, Any]]
    explanation: dict[str, Any]


@dataclass
class SignalView:
    id: str
    page: str
    label: str
    question: str
    legend: list[tuple[str, str]]
    entities: list[EntityView] = field(default_factory=list)
    # Open near-misses (`allywatch review`), as articles with their id and words.
    review: list[dict[str, Any]] = field(default_factory=list)


def text(value: object, limit: int = TEXT_LIMIT) -> str:
    """Feed text as a page shows it: one line, at most `limit` characters."""
    line = one_line(str(value or ""))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def page_name(signal_id: str) -> str:
    return "signals/" + re.sub(r"[^A-Za-z0-9_-]", "-", signal_id) + ".html"


def timeline(
    initial: str,
    transitions: Sequence[Transition],
    start: datetime,
    end: datetime,
    colours: Mapping[str, str],
) -> list[Segment]:
    """One segment per period a state held, from `start` to `end`, placed across WIDTH."""
    ordered = sorted(transitions, key=lambda t: (t.at, t.id))
    start = min([start] + [t.at for t in ordered])
    end = max([end] + [t.at for t in ordered])
    span = (end - start) or timedelta(seconds=1)
    bounds = [start] + [t.at for t in ordered] + [end]
    states = [ordered[0].from_state if ordered else initial] + [t.to_state for t in ordered]
    segments = []
    for state, left, right in zip(states, bounds, bounds[1:], strict=False):
        x = WIDTH * ((left - start) / span)
        width = WIDTH * ((right - left) / span)
        segments.append(
            Segment(state, left, right, round(x, 2), round(width, 2), colours.get(state, "#374151"))
        )
    return segments


def build_site(
    session: Session,
    signals: Sequence[Signal],
    explain: Explainer,
    feeds: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    """Everything the report's templates show, read from the database."""
    stored = {(s.signal, s.entity): s for s in reads.signal_states(session)}
    first_run = reads.first_run_started(session) or now
    views = []
    for signal in signals:
        names = list(dict.fromkeys([signal.initial] + [s.name for s in signal.states]))
        colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
        view = SignalView(
            id=signal.id,
            page=page_name(signal.id),
            label=text(signal.label),
            question=text(signal.question),
            legend=list(colours.items()),
            review=[
                _article(
                    item.outlet,
                    item.published,
                    item.title,
                    item.link,
                    id=item.id,
                    words=[text(w, 60) for w in dict.fromkeys(t.text for t in item.words)],
                )
                for item in review.open_items(
                    session, [signal.id], REVIEW_LISTED, kind=review.NEAR_MISS
                )
            ],
        )
        by_entity: dict[str, list[Transition]] = {}
        for transition in queries.transitions_for(session, signal.id):
            by_entity.setdefault(transition.entity, []).append(transition)
        for entity in signal.entities or ("",):
            row = stored.get((signal.id, entity))
            latest = reads.latest_evidence(session, signal.id, entity)
            transitions = by_entity.get(entity, [])
            view.entities.append(
                EntityView(
                    entity=text(entity),
                    state=row.state if row else signal.initial,
                    since=row.since if row else None,
                    last_evidence=_article(
                        latest.outlet, latest.published, latest.title, latest.link
                    )
                    if latest
                    else None,
                    segments=timeline(signal.initial, transitions, first_run, now, colours),
                    transitions=[
                        _transition(session, t)
                        for t in sorted(transitions, key=lambda t: (t.at, t.id), reverse=True)
                    ],
                    explanation=_explanation(explain(signal, entity or None)),
                )
            )
        views.append(view)
    sources = reads.list_sources(session, list(feeds))
    alerts = [a for a in reads.list_alerts(session, unacked=True, limit=50) if a.announced]
    return {
        "signals": views,
        "open_alerts": [_alert(a) for a in alerts],
        "feeds": [
            {
                "name": text(s.name),
                "failing": bool(s.consecutive_failures),
                "since": s.failing_since,
                "last_success": s.last_success_at,
                "error": text(s.error or ""),
            }
            for s in sources
        ],
        "generated": now,
        "started": first_run,
    }


def write_site(
    site: Mapping[str, Any],
    alerts: Sequence[AlertRecord],
    signal_texts: Mapping[str, SignalText],
    template_dir: Path,
    out: Path,
) -> Path:
    """Write index.html, a page per signal and alerts.xml into `out`; the index's path."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"
    env.filters["day"] = lambda moment: moment.strftime("%Y-%m-%d") if moment else "-"
    (out / "signals").mkdir(parents=True, exist_ok=True)
    _replace(out / "index.html", env.get_template("report/index.html.j2").render(site, root=""))
    for view in site["signals"]:
        page = env.get_template("report/signal.html.j2").render(site, signal=view, root="../")
        _replace(out / view.page, page)
    feed = alerts_feed(
        alerts,
        signal_texts,
        site["generated"],
        page_of={v.id: v.page for v in site["signals"]},
    )
    _replace(out / "alerts.xml", feed.decode("utf-8"))
    return out / "index.html"


def _replace(path: Path, content: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _article(
    outlet: str, published: datetime | str | None, title: str, link: str, **marks: Any
) -> dict[str, Any]:
    if isinstance(published, str):
        published = published[:10]
    elif published is not None:
        published = published.strftime("%Y-%m-%d")
    return {
        "outlet": text(outlet, 80) or "unknown outlet",
        "date": published or "-",
        "title": text(title) or "(untitled)",
        "link": safe_link(link or ""),
        **marks,
    }


def _transition(session: Session, transition: Transition) -> dict[str, Any]:
    evidence = []
    for item in transition.evidence or []:
        if not isinstance(item, Mapping):
            continue
        evidence.append(
            _article(
                str(item.get("outlet") or ""),
                str(item.get("published") or ""),
                str(item.get("title") or ""),
                str(item.get("link") or ""),
                words=[text(w, 60) for w in _matched_words(session, transition, item)],
                hedged=bool(item.get("hedged")),
                against=item.get("polarity") == "against",
            )
        )
    return {
        "from": transition.from_state,
        "to": transition.to_state,
        "at": transition.at,
        "reason": transition.reason,
        "evidence": evidence,
    }


def _matched_words(session: Session, transition: Transition, item: Mapping[str, Any]) -> list[str]:
    """The words matched in an article a transition cites (stored with its observation)."""
    try:
        published = datetime.fromisoformat(str(item.get("published")))
    except ValueError:
        return []
    found = queries.observations_between(
        session,
        transition.signal,
        transition.entity,
        [str(item.get("state") or transition.to_state)],
        str(item.get("polarity") or "for"),
        published - timedelta(microseconds=1),
        published,
        20,
    )
    for observation in found:
        if observation.link == item.get("link"):
            return list(observation.words())
    return []


def _explanation(data: Mapping[str, Any]) -> dict[str, Any]:
    """An explanation with its feed text folded and its links checked."""

    def articles(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [
            _article(
                a.get("outlet", ""),
                a.get("published"),
                a.get("title", ""),
                a.get("link", ""),
                words=[text(w, 60) for w in a.get("words", [])],
                hedged=bool(a.get("hedged")),
                counted=bool(a.get("counted", True)),
            )
            for a in items
        ]

    return {
        "states": [
            {
                "name": s["name"],
                "requirement": s["requirement"],
                "standing": bool((s.get("status") or {}).get("standing")),
                "supporting": articles(s.get("supporting", [])),
                "opposing": articles(s.get("opposing", [])),
            }
            for s in data.get("states", [])
        ],
        "members": [(text(m["entity"]), m["state"]) for m in data.get("members", [])],
        "would_change": [text(line, 1000) for line in data.get("would_change", [])],
    }


def _alert(alert: AlertRecord) -> dict[str, Any]:
    return {
        "id": alert.id,
        "signal": alert.signal,
        "page": page_name(alert.signal) if alert.signal else None,
        "severity": alert.severity,
        "message": text(alert.message),
        "at": alert.at,
    }
