"""Silences: a signal's (or one entity's) transitions recorded but not announced for a while."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from allywatch.store.models import Silence


def add_silence(
    session: Session, signal: str, entity: str, until: datetime, now: datetime, note: str = ""
) -> Silence:
    silence = Silence(signal=signal, entity=entity, until=until, created_at=now, note=note)
    session.add(silence)
    session.flush()
    return silence


def list_silences(session: Session, now: datetime | None = None) -> list[Silence]:
    """Every silence, or only those still in force at `now`; soonest to end first."""
    query = select(Silence).order_by(Silence.until, Silence.id)
    if now is not None:
        query = query.where(Silence.until > now)
    return list(session.scalars(query))


def remove_silence(session: Session, silence_id: int) -> Silence | None:
    silence = session.get(Silence, silence_id)
    if silence is not None:
        session.delete(silence)
        session.flush()
    return silence
