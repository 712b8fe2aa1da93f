"""When a subscriber's digest is due: cadences, local send times, time zones.

Daily and weekly digests go out at the subscriber's local time ("07:00" in
Europe/Berlin follows daylight saving); a digest is due once the latest such
slot has passed and has not been dealt with yet. A run that comes late (cron
was down) sends one digest for the missed slots, not one per slot.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CADENCES = ("immediate", "daily", "weekly")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAYS = tuple(day[:3] for day in _DAY_NAMES)
QUIET_EVERY = timedelta(days=7)

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ScheduleError(ValueError):
    """A cadence, send time, weekday or time zone that cannot be used."""


def parse_send_time(text: str) -> time:
    match = _TIME.match(text)
    if not match:
        raise ScheduleError(f"send time {text!r}: expected HH:MM on a 24-hour clock, like 07:00")
    return time(int(match.group(1)), int(match.group(2)))


def parse_timezone(name: str) -> ZoneInfo:
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(
            f"time zone {name!r}: unknown (use an IANA name such as Europe/Berlin or UTC)"
        ) from exc


def parse_weekday(name: str) -> int:
    """Monday is 0; accepts "mon" or "monday", in any case."""
    key = name.strip().lower()
    for index, day in enumerate(_DAY_NAMES):
        if key in (day, day[:3]):
            return index
    raise ScheduleError(f"weekday {name!r}: expected one of {', '.join(WEEKDAYS)}")


def check_cadence(cadence: str) -> str:
    if cadence not in CADENCES:
        raise ScheduleError(f"cadence {cadence!r}: expected one of {', '.join(CADENCES)}")
    return cadence


def latest_slot(
    cadence: str, send_time: str, timezone: str, weekday: int, now: datetime
) -> datetime:
    """The latest scheduled send moment at or before `now` (aware).

    For `immediate` every moment is a slot, so this is `now` itself.
    """
    check_cadence(cadence)
    if cadence == "immediate":
        return now
    zone = parse_timezone(timezone)
    at = parse_send_time(send_time)
    local = now.astimezone(zone)
    day = local.date()
    if cadence == "weekly":
        day -= timedelta(days=(day.weekday() - weekday) % 7)
    step = timedelta(days=7 if cadence == "weekly" else 1)
    slot = _at(day, at, zone)
    if slot > now:
        slot = _at(day - step, at, zone)
    return slot


def is_due(
    cadence: str,
    send_time: str,
    timezone: str,
    weekday: int,
    *,
    created_at: datetime,
    last_digest_at: datetime | None,
    now: datetime,
) -> bool:
    """Whether a digest slot has passed that was not dealt with yet."""
    if cadence == "immediate":
        return True
    slot = latest_slot(cadence, send_time, timezone, weekday, now)
    return slot > (last_digest_at or created_at)


def quiet_summary_due(
    cadence: str, slot: datetime, *, created_at: datetime, last_sent_at: datetime | None
) -> bool:
    """Whether an "all quiet" note is owed at `slot`: nothing was sent for about a week.

    Scheduled slots allow a day's slack, so that a daily subscriber hears from
    allywatch on the same weekday each week even when a run comes late.
    """
    wait = QUIET_EVERY if cadence == "immediate" else QUIET_EVERY - timedelta(days=1)
    return (last_sent_at or created_at) <= slot - wait


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone)
