"""`allywatch explain`: a signal's current state, the articles behind it, and what would change it.

It reads what the last evaluation stored (the state, the transition that led
there, where each state stands) plus the articles inside each state's window,
so it stays fast however many observations are stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from allywatch.alerts.occurrence import Occurrence
from allywatch.alerts.rules import supporters
from allywatch.language.durations import format_duration
from allywatch.language.model import Signal, StateDef
from allywatch.language.records import Observation
from allywatch.output import plural
from allywatch.store import queries, reads

# Articles listed per state and side (the newest ones).
LISTED = 10


@dataclass(frozen=True)
class StateView:
    """One state of the signal: its requirement, where it stands, the observations in its
    window (newest first), and whether hedged ones count towards it."""

    name: str
    requirement: str
    status: dict[str, Any]
    supporting: list[Observation]
    opposing: list[Observation]
    hedged_counts: bool
    min_sources: int = 1

    def counted(self, observation: Observation) -> bool:
        return self.hedged_counts or not observation.hedged

    @property
    def unconfirmed(self) -> tuple[int, int] | None:
        """(outlets, outlets needed) for a state reported but short of its outlets: a
        critical state one outlet reports is recorded, not reached. Outlets count with
        their tier weights."""
        status = self.status
        outlets = status.get("for_outlets", 0)
        net = outlets - status.get("against_outlets", 0)
        if status.get("standing") or not outlets or net >= self.min_sources:
            return None
        return outlets, self.min_sources

    def standing(self) -> str:
        """Where it stands, in words."""
        if self.status.get("standing"):
            return "supported"
        if self.unconfirmed is not None:
            outlets, needed = self.unconfirmed
            return f"unconfirmed: {outlets} of {plural(needed, 'outlet')}"
        return "not supported" if self.status else "no evidence"


class Member(NamedTuple):
    """A member of an aggregate: its state, the occurrence that belongs to, whether that is
    earlier than the one the aggregate counts, and whether the aggregate counts it (away,
    and not from an earlier occurrence)."""

    entity: str
    state: str
    occurrence: Occurrence | None
    earlier: bool
    counted: bool


@dataclass(frozen=True)
class Explanation:
    signal: str
    entity: str | None
    question: str
    state: str
    since: datetime | None
    evaluated_at: datetime | None
    entered: dict[str, Any] | None
    states: list[StateView] = field(default_factory=list)
    would_change: list[str] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    # The occurrence of a recurring event the state belongs to (for an aggregate: the one
    # it counts), and whether the state is the initial one.
    occurrence: Occurrence | None = None
    initial: bool = False


def explain(
    session: Session, signal: Signal, entity: str | None, members_of: Signal | None = None
) -> Explanation:
    """Explain one entity's state (`entity` None for a signal without entities)."""
    key = entity or ""
    row = queries.signal_state(session, signal.id, key)
    last = queries.last_transitions(session, signal.id).get(key)
    state = row.state if row is not None else signal.initial
    stored = (row.detail if row is not None else None) or {}
    moment = datetime.fromisoformat(stored["at"]) if "at" in stored else None
    entered = None
    if last is not None:
        entered = {
            "from": last.from_state,
            "to": last.to_state,
            "at": last.at,
            "reason": last.reason,
            "evidence": last.evidence,
        }
    occurrence = row.occurrence if row is not None else None
    base = Explanation(
        signal=signal.id,
        entity=entity,
        question=signal.question,
        state=state,
        since=row.since if row is not None else None,
        evaluated_at=moment,
        entered=entered,
        occurrence=Occurrence.from_json(occurrence) if occurrence else None,
        initial=state == signal.initial,
    )
    if signal.aggregate is not None and members_of is not None:
        return _explain_aggregate(session, signal, members_of, base)
    detail = {d["name"]: d for d in stored.get("states", [])}
    names = [s.name for s in signal.states]
    current = names.index(state) if state in names else -1
    views = []
    for index, spec in enumerate(signal.states):
        status = detail.get(spec.name, {})
        if index < current and not status.get("standing"):
            continue  # a lower state with nothing behind it explains nothing
        start = moment - spec.within if spec.within is not None and moment else None
        if index == current and base.occurrence is not None:
            # A state of one occurrence weighs only that occurrence's reports.
            before = base.occurrence.start - timedelta(microseconds=1)
            start = max(start, before) if start is not None else before
        # Reports of stronger states support this one too (alerts.rules.implied).
        bearing = {"for": supporters(signal, spec.name), "against": [spec.name]}
        sides = {
            polarity: queries.observations_between(
                session, signal.id, key, bearing_states, polarity, start, moment, LISTED
            )
            if moment is not None
            else []
            for polarity, bearing_states in bearing.items()
        }
        views.append(
            StateView(
                name=spec.name,
                requirement=_requirement(signal, spec),
                status=status,
                supporting=sides["for"],
                opposing=sides["against"],
                hedged_counts=spec.hedged,
                min_sources=spec.min_sources,
            )
        )
    return _with_changes(base, signal, views)


def _explain_aggregate(
    session: Session, signal: Signal, members_of: Signal, base: Explanation
) -> Explanation:
    assert signal.aggregate is not None
    away = set(signal.aggregate.away)
    rows = {(s.signal, s.entity): s for s in reads.signal_states(session)}
    latest = base.occurrence
    members = []
    for entity in members_of.entities:
        row = rows.get((members_of.id, entity))
        state = row.state if row is not None else members_of.initial
        occurrence = Occurrence.from_json(row.occurrence) if row and row.occurrence else None
        # Away from an earlier occurrence of the event the aggregate counts: not counted.
        earlier = (
            occurrence is not None
            and latest is not None
            and occurrence.event == latest.event
            and not occurrence.same(latest)
        )
        members.append(Member(entity, state, occurrence, earlier, state in away and not earlier))
    away_now = [m.entity for m in members if m.counted]
    count = len(away_now)
    changes = []
    for spec in signal.states:
        minimum = spec.min_count or 0
        if spec.name == base.state:
            changes.append(f"{spec.name}: left when fewer than {_members_away(minimum)}")
        else:
            changes.append(f"{spec.name}: reached when {_members_away(minimum)}")
    now = f"{count} {'is' if count == 1 else 'are'} away now: {', '.join(away_now)}"
    changes = [f"{line} ({now if count else 'none is away now'})" for line in changes]
    return replace(base, members=members, would_change=changes)


def _members_away(count: int) -> str:
    """`1 member is away`, `2 members are away`."""
    return f"{plural(count, 'member')} {'is' if count == 1 else 'are'} away"


def _with_changes(base: Explanation, signal: Signal, views: list[StateView]) -> Explanation:
    """Add the sentences saying what would change the state."""
    names = [s.name for s in signal.states]
    current = names.index(base.state) if base.state in names else -1
    out: list[str] = []
    for view, spec in ((v, signal.state(v.name)) for v in views):
        status = view.status
        rank = names.index(spec.name)
        window = f" within {format_duration(spec.within)}" if spec.within else ""
        if rank == current:
            out += _leaving(spec.name, status, window, spec.expires is not None or bool(spec.event))
        elif rank > current:
            if status.get("standing") and status.get("pending_until"):
                out.append(
                    f"{spec.name}: supported; recorded on {_day(status['pending_until'])}"
                    " if it stays supported"
                )
                continue
            net_outlets = status.get("for_outlets", 0) - status.get("against_outlets", 0)
            net_stories = status.get("for_stories", 0) - status.get("against_stories", 0)
            outlets = max(spec.min_sources - net_outlets, 0)
            stories = max(spec.min_stories - net_stories, 0)
            need = max(outlets, stories, 1)
            out.append(
                f"{spec.name}: reached with {plural(need, 'more independent report')}{window}"
                f" (now {plural(status.get('for_outlets', 0), 'outlet')} for it,"
                f" {status.get('against_outlets', 0)} against; it needs"
                f" {plural(spec.min_sources, 'outlet')} and {plural(spec.min_stories, 'story')})"
            )
    return replace(base, states=views, would_change=out)


def _leaving(name: str, status: dict[str, Any], window: str, event: bool) -> list[str]:
    out = []
    if not status.get("standing") and status.get("pending_until"):
        out.append(
            f"{name}: no longer supported; left on {_day(status['pending_until'])}"
            " unless reports support it again"
        )
        return out
    # Left once the reports against match those for, by outlet and by story.
    needed = max(
        status.get("for_outlets", 0) - status.get("against_outlets", 0),
        status.get("for_stories", 0) - status.get("against_stories", 0),
        0,
    )
    if needed == 0:
        out.append(f"{name}: any report against it would end it")
    else:
        out.append(
            f"{name}: reports against it from {plural(needed, 'more independent outlet')}"
            f"{window} would end it"
        )
    if status.get("expires_at"):
        out.append(f"{name}: expires on {_day(status['expires_at'])} unless reports renew it")
    if status.get("lapses_at"):
        out.append(
            f"{name}: lapses on {_day(status['lapses_at'])} unless its occurrence is reported again"
        )
    if event:
        out.append(f"{name}: newer evidence for a lower state would end it")
    return out


def _requirement(signal: Signal, spec: StateDef) -> str:
    text = f"{plural(spec.min_sources, 'outlet')} and {plural(spec.min_stories, 'story')}"
    text += f" within {format_duration(spec.within)}" if spec.within else ", any time"
    if spec.hedged:
        text += ", hedged reports count"
    if spec.hold:
        text += f"; held {format_duration(spec.hold)}"
    if spec.expires:
        text += f"; expires {format_duration(spec.expires)} after the latest report"
    event = signal.events.get(spec.event) if spec.event else None
    if event is not None:
        text += f"; one {event.label} at a time"
        if event.lapses:
            text += f", lapsing {format_duration(event.lapses)} after its last report"
    return text


def _of(e: Explanation) -> str:
    """The state's occurrence as the first line names it: "absent from the CSTO summit in
    Bishkek, 2025-11-27", "attending at ...", an aggregate "some-away counting ..."."""
    if e.occurrence is None:
        return ""
    how = "counting" if e.members else "at" if e.initial else "from"
    return f" {how} {e.occurrence.describe()}"


def _day(value: str | datetime) -> str:
    """`2025-01-06 10:00 UTC` (stored times are UTC)."""
    text = value.isoformat() if isinstance(value, datetime) else value
    return text[:16].replace("T", " ") + " UTC"


def as_json(explanation: Explanation) -> dict[str, Any]:
    def article(view: StateView, obs: Observation) -> dict[str, Any]:
        return {
            "outlet": obs.outlet,
            "published": obs.when.isoformat(),
            "title": obs.title,
            "link": obs.link,
            "words": list(obs.words()),
            "hedged": obs.hedged,
            "counted": view.counted(obs),
        }

    entered = dict(explanation.entered) if explanation.entered else None
    if entered is not None:
        entered["at"] = entered["at"].isoformat()
    return {
        "signal": explanation.signal,
        "entity": explanation.entity,
        "state": explanation.state,
        "since": explanation.since.isoformat() if explanation.since else None,
        "evaluated_at": (
            explanation.evaluated_at.isoformat() if explanation.evaluated_at else None
        ),
        "entered": entered,
        "states": [
            {
                "name": v.name,
                "requirement": v.requirement,
                "status": v.status,
                "supporting": [article(v, a) for a in v.supporting],
                "opposing": [article(v, a) for a in v.opposing],
                "unconfirmed": (
                    {"outlets": v.unconfirmed[0], "needs": v.unconfirmed[1]}
                    if v.unconfirmed
                    else None
                ),
            }
            for v in explanation.states
        ],
        "occurrence": explanation.occurrence.to_json() if explanation.occurrence else None,
        "members": [
            {
                "entity": m.entity,
                "state": m.state,
                "occurrence": m.occurrence.to_json() if m.occurrence else None,
                "counted": m.counted,
            }
            for m in explanation.members
        ],
        "would_change": explanation.would_change,
    }


def render(explanation: Explanation) -> list[str]:
    """The explanation as lines of text."""
    e = explanation
    subject = f"{e.signal} / {e.entity}" if e.entity else e.signal
    since = f" since {_day(e.since)}" if e.since else ""
    occurrence = _of(e) + ("," if e.occurrence and since else "")
    lines = [f"{subject}: {e.state}{occurrence}{since}", f"  {e.question}"]
    if e.evaluated_at is None:
        lines.append("  (not evaluated yet: run `allywatch run`)")
    elif not e.members:
        lines.append(f"  (evidence counted as of {_day(e.evaluated_at)})")
    if e.entered:
        lines.append("")
        lines.append(
            f"Why: it went from {e.entered['from']} to {e.entered['to']}"
            f" on {_day(e.entered['at'])} ({e.entered['reason']})"
        )
        for item in e.entered["evidence"]:
            marks = _marks(item.get("polarity") == "against", bool(item.get("hedged")), True)
            lines.append(
                f"  {item['published'][:10]} {item['outlet']}: {item['title']}{marks}"
                f" <{item['link']}>"
            )
    if e.members:
        lines.append("")
        lines.append("Members:")
        for member in e.members:
            occurrence = f" ({member.occurrence.describe()})" if member.occurrence else ""
            earlier = "; not counted, a newer one has begun" if member.earlier else ""
            lines.append(f"  {member.entity}: {member.state}{occurrence}{earlier}")
    for view in e.states:
        lines.append("")
        lines.append(f"{view.name} ({view.standing()}; needs {view.requirement})")
        for side, observations in (("for", view.supporting), ("against", view.opposing)):
            if not observations:
                continue
            lines.append(f"  reports {side} it:")
            for obs in observations:
                marks = _marks(False, obs.hedged, view.counted(obs))
                words = _distinct(obs.words())
                matched = f" (matched: {', '.join(words)})" if words else ""
                lines.append(
                    f"    {obs.published:%Y-%m-%d} {obs.outlet}: {obs.title}{marks}{matched}"
                    f" <{obs.link}>"
                )
    if e.would_change:
        lines.append("")
        lines.append("What would change it:")
        lines += [f"  - {sentence}" for sentence in e.would_change]
    return lines


def _marks(against: bool, hedged: bool, counted: bool) -> str:
    """` [against, hedged]`: how a report bears on a state, where it is not plainly for it."""
    marks = ["against"] if against else []
    if hedged:
        marks.append("hedged" if counted else "hedged, not counted")
    return f" [{', '.join(marks)}]" if marks else ""


def _distinct(words: tuple[str, ...]) -> list[str]:
    """Each matched word once, whatever its case (`Su-35` and `su-35` are one)."""
    first: dict[str, str] = {}
    for word in words:
        first.setdefault(word.casefold(), word)
    return list(first.values())
