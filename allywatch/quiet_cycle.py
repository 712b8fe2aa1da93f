"""A cron cycle in which no feed brings anything, done with sqlite3 and the HTTP client
alone.

Most cron runs find every feed unchanged. The full cycle (allywatch/cycle.py) would
still import SQLAlchemy's ORM and validate the config with pydantic, which is most of
what such a run costs. So `run` first tries `quiet_cycle`: from the config's cached
view (allywatch/config_view.py), the signals' cached outlines and a few reads of the
database (store/reads.py), it checks that the cycle can have nothing to do but poll:

- the database is an SQLite file at the newest schema revision;
- a run was recorded before (the first run's findings are the baseline);
- the sources table agrees with the config: every source stored, at its configured
  location, due as its configured interval says, and none failing (a failing source
  may be due for a feed alert; a recovering one for a new start);
- no signal is due for evaluation (alerts/replay_due.py);
- nothing is due for delivery: no `notify:` URLs (nor operator channels left from
  them to switch off) and no subscriber with a digest, an alert or a note due
  (alerts/digest_due.py);
- the report folder, if the config names one, already has its page.

It then polls the due sources. When every one answers "not modified" it records the
polls and the run in one transaction (store/polls.py): the rows the full cycle records
for such a cycle. Anything else (a check that fails, a feed with news or an error)
hands over to the full cycle, with what was fetched so that nothing is fetched twice
(`run_cycle(fetched=...)`). The result is the same either way;
tests/test_quiet_path.py compares the two.

Like the full cycle, `cycle` runs under the cycle lease (runlock.cycle_turn), which on
SQLite admits one cycle at a time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from allywatch.alerts.addresses import is_operator
from allywatch.alerts.digest_due import candidates
from allywatch.alerts.replay_due import due_signals, evaluation_keys
from allywatch.config_view import ConfigView, SourceView
from allywatch.cycle_plan import CycleReport, poll_margins
from allywatch.store import reads
from allywatch.store.polls import (
    QuietPoll,
    configured_next_poll,
    record_quiet_polls,
    record_run,
)
from allywatch.store.reads import (
    SourceRecord,
    SqliteReader,
    open_sqlite,
    sqlite_path,
    sqlite_writing,
)
from allywatch.workspace import Workspace

if TYPE_CHECKING:
    from typing import TypeAlias

    from allywatch.watchers.fetch import FetchRequest, FetchResult

    Fetched: TypeAlias = dict[FetchRequest, FetchResult]


def cycle(
    workspace: Workspace, now: datetime, *, poll: Collection[str] | None = None
) -> CycleReport:
    """One cycle, as `run_cycle` does it: the quiet way when it can be, else the full way."""
    outcome = quiet_cycle(workspace, now, poll=poll)
    if isinstance(outcome, CycleReport):
        return outcome
    from allywatch.cycle import run_cycle

    return run_cycle(workspace, now, poll=poll, fetched=outcome)


def quiet_cycle(
    workspace: Workspace, now: datetime, *, poll: Collection[str] | None = None
) -> CycleReport | Fetched:
    """The cycle's report when it was quiet and is recorded; else what it fetched (empty
    when it did not get as far as fetching), for the full cycle to go on with."""
    view = workspace.view
    reader = None if "engine" in vars(workspace) else open_sqlite(view.database)
    if reader is None:
        return {}
    try:
        due = _due_if_quiet(reader, workspace, now, poll)
    finally:
        reader.close()
    if due is None:
        return {}
    return _poll(view, due, now)


def _due_if_quiet(
    reader: SqliteReader, workspace: Workspace, now: datetime, poll: Collection[str] | None
) -> list[SourceRecord] | None:
    """The sources due, in the order the full cycle claims them, when the cycle can have
    nothing to do but poll them; None when it may have more to do."""
    view = workspace.view
    if reads.first_run_started(reader) in (None, now):  # the first run: see cycle.evaluate
        return None
    stored = {s.name: s for s in reads.list_sources(reader, view.source_names)}
    if not _schedule_agrees(view.sources, stored):
        return None
    outlines = workspace.outlines
    keys = evaluation_keys(reader, outlines, view.tier_weights, view.source_tiers)
    if due_signals(reader, outlines, keys, now):
        return None
    if view.notifies or _owes_messages(reader, now):
        return None
    if view.report is not None and not (view.report / "index.html").exists():
        return None
    margins = poll_margins(view.sources, poll)
    due = [
        source
        for name, source in stored.items()
        if name in margins
        and (source.next_poll_at is None or source.next_poll_at <= now + margins[name])
        and (source.claimed_until is None or source.claimed_until <= now)
    ]
    return sorted(due, key=lambda s: (s.next_poll_at is not None, s.next_poll_at or now, s.id))


def _owes_messages(reader: SqliteReader, now: datetime) -> bool:
    """Whether delivering might send or change anything: a subscriber has something due,
    or an operator channel is still active though the config names no `notify:` URL
    (delivering switches it off)."""
    active = reads.list_subscribers(reader, active_only=True)
    return any(is_operator(s.email) for s in active) or bool(candidates(reader, now))


def _schedule_agrees(sources: Sequence[SourceView], stored: Mapping[str, SourceRecord]) -> bool:
    """Whether the full cycle would leave the sources table as it is before polling
    (queries.sync_sources, queries.reschedule), and no source is failing."""
    for source in sources:
        row = stored.get(source.name)
        if row is None or row.configured_location != source.location:
            return False
        if row.consecutive_failures or row.failing_since is not None:
            return False
        if configured_next_poll(row, source.interval) is not None:
            return False
    return True


class _ClaimedMeanwhile(Exception):
    """A source polled here was claimed by another worker before its poll was recorded."""


def _poll(view: ConfigView, due: list[SourceRecord], now: datetime) -> CycleReport | Fetched:
    """Poll the due sources; record the cycle if none brought anything, else hand over."""
    from allywatch.watchers.fetch import FetchRequest, fetch_all_sync, next_poll_delay
    from allywatch.watchers.fetch_limits import FetchLimits

    requests = [FetchRequest(s.name, s.location, s.etag, s.last_modified) for s in due]
    results = fetch_all_sync(requests, FetchLimits.from_json(view.fetch)) if due else []
    fetched = dict(zip(requests, results, strict=True))
    if any(result.status != "not-modified" for result in results):
        return fetched
    intervals = {s.name: s.interval for s in view.sources}
    polls = [
        QuietPoll(
            source.id,
            result.final_location,
            result.etag,
            result.last_modified,
            now + next_poll_delay(0, result.retry_after, intervals[source.name]),
        )
        for source, result in zip(due, results, strict=True)
    ]
    report = CycleReport(polled=len(due))
    path = sqlite_path(view.database)
    assert path is not None  # open_sqlite read it
    try:
        with sqlite_writing(path) as db:
            if not record_quiet_polls(db, polls, now):
                raise _ClaimedMeanwhile
            record_run(db, now, "ok", report.summary())
    except _ClaimedMeanwhile:
        return fetched
    return report
