"""One cycle: poll the due sources, store new articles, match them, evaluate, alert.

This is the only place where the three step packages meet: watchers produce
articles and observations, store keeps them, alerts turns them into state.
Each source's results are written in one transaction, so a cycle killed
half-way leaves whole sources stored and the rest for the next cycle.

Several workers may run cycles on one database at once (see store/claims.py):
each claims batches of due sources, so every source is polled by one of them;
storing results and evaluating the rules take turns across workers.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import BrokenExecutor, Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from allywatch.alerts.dispatch import DigestReport
from allywatch.alerts.evaluate import evaluate
from allywatch.alerts.feeds import feed_alerts
from allywatch.config import Config
from allywatch.digests import send_due
from allywatch.language.records import Article, Observation
from allywatch.store import claims, queries
from allywatch.store.engine import reading, writing
from allywatch.store.models import Alert, Source
from allywatch.watchers.dedup import Fingerprint, StoryGrouper
from allywatch.watchers.fetch import (
    FetchRequest,
    FetchResult,
    FetchSettings,
    fetch_all_sync,
    next_poll_delay,
)
from allywatch.watchers.matcher import Matcher
from allywatch.watchers.parse import FeedParseError
from allywatch.watchers.parse_pool import Parsed, ParsePool
from allywatch.workspace import Workspace

GROUPING_WINDOW = timedelta(days=7)
EARLY_MAX = timedelta(minutes=1)
# Where workers share sources, one claims this many rounds of its fetch concurrency at a time.
CLAIM_ROUNDS = 4
STORE_ALLOWANCE = timedelta(minutes=2)


def claim_lease(fetch: FetchSettings, sources: int) -> timedelta:
    """How long a claim on `sources` sources holds: every fetch round taking its whole
    deadline, and the storing after. A worker that died is replaced after this."""
    rounds = -(-sources // fetch.concurrency)
    return rounds * timedelta(seconds=fetch.deadline) + STORE_ALLOWANCE


@dataclass
class CycleReport:
    """What one cycle did, for the command line and the run log."""

    polled: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    new_articles: int = 0
    observations: int = 0
    alerts: list[Alert] = field(default_factory=list)
    digests: DigestReport = field(default_factory=DigestReport)

    def summary(self) -> dict[str, object]:
        return {
            "polled": self.polled,
            "failed": [name for name, _ in self.failed],
            "new_articles": self.new_articles,
            "observations": self.observations,
            "alerts": len(self.alerts),
        }


def run_cycle(workspace: Workspace, now: datetime | None = None) -> CycleReport:
    """Poll what is due, store and match what is new, evaluate every signal, send due digests."""
    now = now or datetime.now(UTC)
    matcher = Matcher(workspace.signals)  # bad signal files stop the cycle before the database
    config, engine = workspace.config, workspace.engine
    report = CycleReport()
    with writing(engine) as session:
        run_id = queries.start_run(session, now).id
    worker = claims.worker_name()
    margins = _configured_sources(engine, config)
    stories = _Stories(since=now - GROUPING_WINDOW)
    intervals = {s.name: s.interval or config.poll_interval for s in config.sources}
    try:
        with ParsePool(config.parse_workers) as pool:
            intake = _Intake(workspace, worker, now, matcher, stories, report, intervals, pool)
            while due := _claim_due(engine, config, worker, now, margins):
                requests = [FetchRequest(s.name, s.location, s.etag, s.last_modified) for s in due]
                # A batch is stored once all of it is fetched, in one short stretch: workers
                # side by side evaluate what is stored, and storing as each fetch ends would
                # show them a half-stored cycle for as long as its slowest feed takes.
                results = fetch_all_sync(requests, config.fetch)
                for source, result in zip(due, results, strict=True):
                    intake.add(source, result)
                intake.finish()
    finally:
        with writing(engine) as session:
            claims.release_all(session, worker)
    with writing(engine) as session:
        claims.exclusive(session, claims.EVALUATION)
        # A worker that polled nothing leaves the evaluation to those still storing this
        # cycle's batches: evaluated now, it would see a half-stored cycle and record
        # changes the whole cycle does not bear out. A worker that stored something
        # always evaluates, so evaluation is never put off for long.
        if report.polled or not claims.busy_workers(session, worker, now):
            # Changes dated before allywatch first ran are the backlog: the baseline, not news.
            backlog = None if config.alert_on_first_run else queries.first_run_started(session)
            report.alerts = evaluate(session, workspace.signals, now, backlog_before=backlog)
        configured = queries.list_sources(session, [s.name for s in config.sources])
        report.alerts += feed_alerts(session, configured, now, config.feed_failure_alert_after)
        queries.finish_run(
            session, run_id, now, "partial" if report.failed else "ok", report.summary()
        )
    report.digests = send_due(workspace, now)
    return report


def _configured_sources(engine: Engine, config: Config) -> dict[int, timedelta]:
    """Make the sources table agree with the config; map each source's id to how early
    it may be polled: a tenth of its interval, at most EARLY_MAX.

    The margin keeps a source on its interval when runs come exactly as often: a
    cron run or serve tick that starts a second before the source's time must
    poll it, not leave it for the run after.
    """
    early = {
        s.name: min((s.interval or config.poll_interval) / 10, EARLY_MAX) for s in config.sources
    }
    with writing(engine) as session:
        claims.exclusive(session, claims.SOURCES)
        sources = queries.sync_sources(session, [(s.name, s.location) for s in config.sources])
        return {s.id: early[s.name] for s in sources}


def _claim_due(
    engine: Engine, config: Config, worker: str, now: datetime, margins: dict[int, timedelta]
) -> list[Source]:
    """Claim the next batch of due sources; each source once per cycle (dropped from `margins`).

    Where workers run side by side a batch is CLAIM_ROUNDS rounds of fetching, so
    that they share the sources; else it is everything due, which spares waiting
    for each batch's slowest feed.
    """
    fetch = config.fetch
    limit = fetch.concurrency * CLAIM_ROUNDS if claims.side_by_side(engine) else len(margins)
    with writing(engine) as session:
        due = claims.claim_due_sources(
            session, worker, now, claim_lease(fetch, limit), margins=margins, limit=limit
        )
    for source in due:
        del margins[source.id]
    return due


class _Stories:
    """The story grouper of the last week's articles, so new copies join their stories,
    including the articles other workers store while this cycle runs.

    Built on first use: a cycle in which no feed brings articles never reads the
    week's articles. Stored articles are restored with their stored story keys,
    which is cheaper than grouping them again and keeps the key of a story whose
    first article is older than the week.
    """

    def __init__(self, since: datetime) -> None:
        self.since = since
        self._grouper: StoryGrouper | None = None
        self.last_id = 0  # the last article held: this worker's own, or caught up with

    @property
    def grouper(self) -> StoryGrouper:
        if self._grouper is None:
            raise RuntimeError("catch_up() builds the story grouper before it is used")
        return self._grouper

    def catch_up(self, session: Session) -> int:
        """Hold the articles stored after `last_id`, in the order they were stored
        (building the grouper from the last week's articles on first use).

        Returns how many were stored since the last call: none means nobody stored
        an article meanwhile.
        """
        since = None
        if self._grouper is None:
            self._grouper = StoryGrouper()
            since = self.since
            newest = queries.last_article_id(session)  # before the rows: none is skipped
        rows = queries.recent_articles(session, since, after_id=self.last_id)
        for article_id, uid, title, summary, story in rows:
            self._grouper.restore(uid, title, summary, story)
            self.last_id = article_id
        if since is not None:
            self.last_id = max(self.last_id, newest)
            return 0
        return len(rows)


class _Intake:
    """Takes fetch results in the order they come and stores each source's outcome,
    in that order, once its document is parsed (in the parse pool meanwhile)."""

    def __init__(
        self,
        workspace: Workspace,
        worker: str,
        now: datetime,
        matcher: Matcher,
        stories: _Stories,
        report: CycleReport,
        intervals: dict[str, timedelta],
        pool: ParsePool,
    ) -> None:
        self.workspace, self.worker, self.now = workspace, worker, now
        self.pool = pool
        self.matcher, self.stories, self.report = matcher, stories, report
        self.intervals = intervals
        self.pending: deque[tuple[Source, FetchResult, Future[Parsed] | None]] = deque()

    def add(self, source: Source, result: FetchResult) -> None:
        parsed = None
        if result.status == "ok":
            parsed = self.pool.submit(
                result.body or b"", result.headers, result.name, result.final_location, self.now
            )
        self.pending.append((source, result, parsed))
        while self.pending and (self.pending[0][2] is None or self.pending[0][2].done()):
            self._store(*self.pending.popleft())

    def finish(self) -> None:
        """Store every outcome still waiting for its parse, helping the pool parse meanwhile."""
        while self.pending:
            parsed = self.pending[0][2]
            while parsed is not None and not parsed.done() and self.pool.help():
                pass
            self._store(*self.pending.popleft())

    def _store(self, source: Source, result: FetchResult, parsed: Future[Parsed] | None) -> None:
        self.report.polled += 1
        articles: Parsed = []
        error: tuple[str, str] | None = None
        if result.status == "error":
            error = (result.error_kind or "error", _printable(result.error or "fetch failed"))
        elif parsed is not None:
            try:
                articles = parsed.result()
            except FeedParseError as exc:
                error = ("parse", _printable(str(exc)))
            except BrokenExecutor as exc:  # a parse worker died (killed, out of memory)
                error = ("parse", f"the parsing process died: {exc}")
        self._store_outcome(source.id, result, articles, error)

    def _store_outcome(
        self, source_id: int, result: FetchResult, articles: Parsed, error: tuple[str, str] | None
    ) -> None:
        engine, now, report, stories = self.workspace.engine, self.now, self.report, self.stories
        interval = self.intervals[result.name]
        # Weeding out known articles and matching the rest happen before the storing
        # turn, so that workers do them side by side; the turn rechecks the rest only
        # if another worker stored articles meanwhile.
        unknown = _unknown(engine, articles, stories)
        matched = [(a, print_, self.matcher.match(a.title, a.summary)) for a, print_ in unknown]
        with writing(engine) as session:
            claims.exclusive(session, claims.ARTICLES)
            source = claims.release_source(session, source_id, self.worker)
            if source is None:  # the claim ran out and another worker polls the source now
                return
            if error is not None:
                report.failed.append((source.name, f"{error[0]}: {error[1]}"))
                failures = (source.consecutive_failures or 0) + 1
                queries.record_fetch_failure(
                    session,
                    source,
                    now=now,
                    kind=error[0],
                    message=error[1],
                    next_poll_at=now + next_poll_delay(failures, result.retry_after, interval),
                )
                return
            recheck = bool(matched) and stories.catch_up(session) > 0
            new = _store_articles(session, source, matched, now, stories, recheck, report)
            queries.record_fetch_success(
                session,
                source,
                now=now,
                location=result.final_location,
                etag=result.etag,
                last_modified=result.last_modified,
                next_poll_at=now + next_poll_delay(0, result.retry_after, interval),
                new_articles=new,
            )


def _printable(message: str) -> str:
    """An error message fit for a terminal and a log: feed bytes quoted in it may be binary."""
    return "".join(c if c.isprintable() else "?" for c in message.replace("\ufffd", "?"))


def _unknown(engine: Engine, articles: Parsed, stories: _Stories) -> Parsed:
    """The articles not stored yet as far as can be told now; brings `stories` up to date."""
    if not articles:
        return []
    with reading(engine) as session:
        stories.catch_up(session)
        known_uids, known_links = queries.known_article_keys(
            session, [a.uid for a, _ in articles], [a.link for a, _ in articles]
        )
    return [(a, p) for a, p in articles if a.uid not in known_uids and a.link not in known_links]


def _store_articles(
    session: Session,
    source: Source,
    matched: list[tuple[Article, Fingerprint | None, list[Observation]]],
    now: datetime,
    stories: _Stories,
    recheck: bool,
    report: CycleReport,
) -> int:
    """Store the articles not stored yet (checking the database again if `recheck`),
    with their observations; returns how many."""
    known_uids: set[str] = set()
    known_links: set[str] = set()
    if recheck:
        known_uids, known_links = queries.known_article_keys(
            session, [a.uid for a, _, _ in matched], [a.link for a, _, _ in matched]
        )
    batch: list[tuple[Article, str, list[Observation]]] = []
    for article, print_, observations in matched:
        if article.uid in known_uids or article.link in known_links:
            continue
        known_uids.add(article.uid)
        known_links.add(article.link)
        batch.append((article, stories.grouper.add_fingerprint(article.uid, print_), observations))
    if batch:
        stories.last_id = queries.add_articles(session, source, now, batch)
    report.new_articles += len(batch)
    report.observations += sum(len(observations) for _, _, observations in batch)
    return len(batch)
