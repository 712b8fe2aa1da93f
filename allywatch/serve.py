"""`allywatch serve`: the same cycle as `allywatch run`, on a schedule, until stopped.

The scheduler (APScheduler 3, a BlockingScheduler) runs one job, a tick every
`tick` (with a little jitter). Each tick runs `run_cycle`, which polls only the
sources whose own interval has come round, evaluates the rules after the poll
and sends the digests that are due; so a cron line calling `allywatch run`
every `tick` and a running `serve` do the same work and store the same results.
A source is thus polled at the first tick after its interval ends.

Ticks never overlap (max_instances=1); ticks missed while one ran long are
merged into one (coalesce) or dropped after a grace time. Every tick takes the
"cycle" lease, so a cron run and serve on the same database take turns, and
serve holds the "serve" lease for its whole life, so a second serve refuses to
start. SIGTERM or SIGINT stops the scheduler: the cycle in progress finishes
(each of its steps is one transaction anyway), then the leases are released.

Logs are one line per event, `key=value`, on stderr.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_STARTED,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import make_url

from allywatch.cycle import run_cycle
from allywatch.cycle_plan import CycleReport
from allywatch.runlock import SERVE, LockBusy, RunLock, cycle_turn
from allywatch.store.claims import side_by_side
from allywatch.workspace import Workspace

log = logging.getLogger("allywatch.serve")

JOB_ID = "cycle"
MIN_TICK = timedelta(seconds=1)


def kv(event: str, **fields: object) -> str:
    """`event=NAME key=value ...`; values with spaces, quotes or `=` are JSON-quoted."""
    parts = [f"event={event}"]
    for key, value in fields.items():
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        text = str(value)
        if not text or any(c in text for c in ' "=\n\t\\'):
            text = json.dumps(text, ensure_ascii=False)
        parts.append(f"{key}={text}")
    return " ".join(parts)


class OneLineFormatter(logging.Formatter):
    """Keeps every record, tracebacks included, on one line; times in UTC. A message
    that is prose, not `event=...` (Alembic's migration lines, say), becomes
    `event=log logger=NAME message="..."`, so every line parses as key=value."""

    converter = staticmethod(time.gmtime)

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if not message.startswith("event="):
            prose = kv("log", logger=record.name, message=message)
            record = logging.makeLogRecord({**record.__dict__, "msg": prose, "args": None})
        return super().format(record).replace("\n", "\\n")


def configure_logging(verbose: bool = False) -> None:
    """Structured logs on stderr: time, level, then the event's key=value pairs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        OneLineFormatter("time=%(asctime)s level=%(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # APScheduler's own messages are prose; its events are logged here as key=value instead.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)


class Server:
    """Runs `cycle` every `tick` on `workspace` until stop() or a signal."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        tick: timedelta = timedelta(minutes=1),
        cycle: Callable[[Workspace], CycleReport] = run_cycle,
    ) -> None:
        if tick < MIN_TICK:
            raise ValueError(f"the tick must be at least {MIN_TICK.total_seconds():g}s")
        self.workspace, self.tick, self.cycle = workspace, tick, cycle
        self.scheduler = self._build_scheduler()
        self._serve_lock: RunLock | None = None
        self._stopping = False
        self._stopper: threading.Thread | None = None
        # Reentrant: a second signal may interrupt the main thread inside stop().
        self._stop_lock = threading.RLock()

    def run(self) -> None:
        """Serve until stopped; raises LockBusy if another serve holds the database."""
        engine = self.workspace.engine
        # On SQLite one serve per database; on PostgreSQL serves are workers sharing the work.
        self._serve_lock = None if side_by_side(engine) else RunLock(engine, SERVE).acquire()
        try:
            previous = {
                sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
            }
            log.info(
                kv(
                    "started",
                    pid=os.getpid(),
                    database=make_url(self.workspace.config.database).render_as_string(
                        hide_password=True
                    ),
                    sources=len(self.workspace.config.sources),
                    signals=len(self.workspace.signals),
                    tick=f"{self.tick.total_seconds():g}s",
                )
            )
            self.scheduler.start()  # blocks until stop()
            if self._stopper is not None:
                self._stopper.join()  # the tick in progress has finished
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        finally:
            if self._serve_lock is not None:
                self._serve_lock.release()
        log.info(kv("stopped"))

    def stop(self, reason: str = "requested") -> None:
        """Stop after the tick in progress; safe to call from any thread, more than once."""
        with self._stop_lock:
            if self._stopping:
                return
            self._stopping = True
            log.info(kv("stopping", reason=reason))
            if self.scheduler.running:
                self._shut_down()
            # Otherwise the scheduler is still starting: _on_started() shuts it down.

    def _on_started(self, _event: SchedulerEvent) -> None:
        with self._stop_lock:
            if self._stopping and self._stopper is None:
                self._shut_down()

    def _shut_down(self) -> None:
        # Not from the caller's thread: a signal handler may have interrupted the
        # scheduler's own loop, and shutdown(wait=True) waits for the running tick.
        self._stopper = threading.Thread(
            target=self.scheduler.shutdown, kwargs={"wait": True}, name="serve-stop"
        )
        self._stopper.start()

    def tick_once(self) -> None:
        """One scheduled step: the cycle, under the cycle lease, logged.

        Nothing a tick raises stops serve: the error is logged and the next tick
        tries again (a database that is briefly unreachable, say).
        """
        if self._serve_lock is not None and self._serve_lock.lost.is_set():
            log.error(kv("serve_lease_lost", action="stopping"))
            self.stop("serve lease lost")
            return
        started = time.monotonic()
        try:
            with cycle_turn(self.workspace.engine):
                report = self.cycle(self.workspace)
        except LockBusy as busy:
            log.info(kv("cycle_skipped", reason=str(busy)))  # names the holder where known
            return
        except Exception:
            log.exception(kv("cycle_failed"))
            return
        _log_report(report, time.monotonic() - started)

    def _build_scheduler(self) -> BlockingScheduler:
        scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            timezone=UTC,
        )
        seconds = self.tick.total_seconds()
        scheduler.add_job(
            self.tick_once,
            IntervalTrigger(seconds=seconds, jitter=max(1, int(seconds / 10)), timezone=UTC),
            id=JOB_ID,
            name="cycle",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(seconds)),
            next_run_time=datetime.now(UTC),
        )
        scheduler.add_listener(self._on_job_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
        return scheduler

    def _on_job_event(self, event: JobExecutionEvent | JobSubmissionEvent) -> None:
        """A missed tick comes as an execution event with one run time; a tick refused
        because the last one still runs comes as a submission event with a list of them."""
        if isinstance(event, JobSubmissionEvent):
            times = event.scheduled_run_times
            log.warning(kv("tick_still_running", scheduled=times[-1].isoformat()))
        else:
            log.warning(kv("tick_missed", scheduled=event.scheduled_run_time.isoformat()))

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stop(signal.Signals(signum).name)


def _log_report(report: CycleReport, seconds: float) -> None:
    for name, error in report.failed:
        log.warning(kv("source_failed", source=name, error=error))
    for alert in report.alerts:
        log.info(
            kv(
                "alert",
                id=alert.id,
                signal=alert.signal or "",
                entity=alert.entity,
                severity=alert.severity,
                announced=alert.announced,
                message=alert.message,
            )
        )
    for email, error in report.digests.failed:
        log.warning(kv("digest_failed", email=email, error=error))
    for sent in report.digests.sent:
        log.info(kv("digest_sent", email=sent.email, alerts=sent.alerts, id=sent.message_id))
    log.info(
        kv(
            "cycle_done",
            seconds=f"{seconds:.2f}",
            **report.summary(),
            digests_sent=len(report.digests.sent),
            digests_failed=len(report.digests.failed),
        )
    )
