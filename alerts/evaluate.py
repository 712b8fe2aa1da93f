"""Evaluation against the store: replay each signal from its stored observations,
record the transitions not yet recorded, raise one alert for each, and keep the
current state table up to date.

Transitions and alerts carry unique keys, so evaluating twice, or from two
overlapping runs, records each change once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from alerts.rules import Change, Evidence, SignalSpec, Timeline, replay_aggregate, replay_signal
from store import queries
from store.models import Alert


def evaluate(
    session: Session, signals: Sequence[SignalSpec], now: datetime, *, announce: bool = True
) -> list[Alert]:
    """Bring stored state up to date with the observations; return the alerts raised.

    With `announce=False` (a first run over a backlog) transitions and alerts
    are recorded but marked as not announced, so nobody is mailed the past.
    """
    timelines: dict[str, list[Timeline]] = {}
    for signal in signals:
        if signal.aggregate is None:
            timelines[signal.id] = replay_signal(signal, _stored_evidence(session, signal.id), now)
    for signal in signals:
        if signal.aggregate is not None and signal.aggregate.of in timelines:
            timelines[signal.id] = [replay_aggregate(signal, timelines[signal.aggregate.of])]

    raised: list[Alert] = []
    severity = {s.id: {state.name: state.severity for state in s.states} for s in signals}
    for signal_id, entity_timelines in timelines.items():
        for timeline in entity_timelines:
            entity = timeline.entity or ""
            for change in timeline.changes:
                alert = _record(session, change, severity[signal_id], now, announce)
                if alert is not None:
                    raised.append(alert)
            queries.set_signal_state(
                session, signal_id, entity, timeline.state, timeline.since, now
            )
    return raised


def _stored_evidence(session: Session, signal_id: str) -> list[tuple[str | None, Evidence]]:
    return [
        (
            obs.entity or None,
            Evidence(
                state=obs.state,
                at=obs.published_at,
                outlet=obs.outlet,
                story=obs.story,
                polarity=obs.polarity,
                hedged=obs.hedged,
                link=article.link,
                title=article.title,
            ),
        )
        for obs, article in queries.observations_for(session, signal_id)
    ]


def _record(
    session: Session, change: Change, severity: dict[str, str], now: datetime, announce: bool
) -> Alert | None:
    entity = change.entity or ""
    if queries.find_transition(session, change.signal, entity, change.at, change.to_state):
        return None
    evidence = [
        {"link": e.link, "title": e.title, "outlet": e.outlet, "published": e.at.isoformat()}
        for e in change.evidence
    ]
    transition = queries.add_transition(
        session,
        signal=change.signal,
        entity=entity,
        from_state=change.from_state,
        to_state=change.to_state,
        at=change.at,
        evidence=evidence,
        recorded_at=now,
    )
    return queries.add_alert(
        session,
        key=f"transition:{change.signal}:{entity}:{change.at.isoformat()}:{change.to_state}",
        kind="transition",
        signal=change.signal,
        entity=entity,
        from_state=change.from_state,
        to_state=change.to_state,
        severity=severity.get(change.to_state, "info"),
        at=change.at,
        message=_message(change),
        evidence=evidence,
        transition_id=transition.id,
        created_at=now,
        announced=announce,
    )


def _message(change: Change) -> str:
    subject = f"{change.signal} / {change.entity}" if change.entity else change.signal
    return f"{subject}: {change.from_state} -> {change.to_state}"
