"""One cycle, as a sequence of typed steps, one function each:

    fetch     due sources -> one FetchResult each               (watchers)
    parse     a FetchResult -> Parsed: articles and fingerprints (watchers, parse pool)
    dedup     Parsed -> the articles not stored yet
    match     articles -> Matched: each with its Observations and NearMisses (watchers)
    store     Matched -> article rows filed into stories, observation rows,
              near-misses kept for review                        (store)
    evaluate  stored observations -> transitions and alerts     (alerts)
    deliver   due digests and notify: messages -> sent           (alerts)
    publish   the config's report: folder, if the cycle changed something (alerts)

This is the only place where the step packages meet. `run_cycle` (and
`_Intake`, which takes in the sources' outcomes in the order they were
fetched) wires the steps together and holds, around them and never inside
them, what lets several workers run cycles on one database at once (see
store/claims.py): each claims batches of due sources, so every source is
polled by one of them; dedup and match run side by side, storing takes turns
(dropping first what another worker stored meanwhile), and so does evaluating.
The sources parsed one after another are taken in by groups of about
GROUP_ARTICLES articles: a group is deduplicated against the database in one
look-up and its results are written in one transaction, so a cycle killed
half-way leaves whole sources stored and the rest for the next cycle.

`backtest` goes through dedup and match too, and through the rules engine's
replay_all as evaluate does.

`dry_run_cycle` (`run --dry-run`) runs these same steps on a throw-away copy of
the database, sending and publishing nothing, and reports what the copy gained.

The matcher and the feed parser are imported where the first article needs them:
a quiet cron cycle, in which no feed brings one, does without them.
"""

from __future__ import annotations

import gc
import tempfile
from collections import deque
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import BrokenExecutor, Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from allywatch.alerts.digest_report import DigestReport
from allywatch.alerts.evaluate import evaluate as evaluate_signals
from allywatch.alerts.feeds import feed_alerts
from allywatch.alerts.unannounced import unannounced_reason
from allywatch.config import Config
from allywatch.cycle_plan import CycleReport, poll_margins
from allywatch.digests import send_due
from allywatch.language.records import Article, NearMiss, Observation
from allywatch.site import refresh_report
from allywatch.store import claims, queries, reads, review
from allywatch.store.copy import snapshot_sqlite
from allywatch.store.engine import reading, writing
from allywatch.store.models import Alert, Source
from allywatch.watchers.dedup import Fingerprint, StoryGrouper
from allywatch.watchers.fetch import (
    FetchRequest,
    FetchResult,
    fetch_all_sync,
    next_poll_delay,
)
from allywatch.watchers.fetch_settings import FetchSettings
from allywatch.watchers.parse_pool import Parsed, ParsePool
from allywatch.workspace import Workspace

if TYPE_CHECKING:
    from allywatch.watchers.matcher import Matcher

GROUPING_WINDOW = timedelta(days=7)
# Where workers share sources, one claims this many rounds of its fetch concurrency at a time.
CLAIM_ROUNDS = 4
STORE_ALLOWANCE = timedelta(minutes=2)
# Sources are stored in groups of about this many articles: a query and a transaction per
# source were a fifth of a cold cycle's CPU (SQLite), while a group's articles wait in memory.
GROUP_ARTICLES = 2_000


def claim_lease(fetch: FetchSettings, sources: int) -> timedelta:
    """How long a claim on `sources` sources holds: every fetch round taking its whole
    deadline, and the storing after. A worker that died is replaced after this."""
    rounds = -(-sources // fetch.concurrency)
    return rounds * timedelta(seconds=fetch.deadline) + STORE_ALLOWANCE


def run_cycle(
    workspace: Workspace,
    now: datetime | None = None,
    *,
    poll: Collection[str] | None = None,
    send: bool = True,
    fetched: dict[FetchRequest, FetchResult] | None = None,
) -> CycleReport:
    """Poll what is due, store and match what is new, evaluate every signal, send due digests.

    `poll` names the sources to poll now, due or not, and no others (None: those due).
    With `send` false no digest or message is sent and the report is not rewritten.
    `fetched`: results already fetched, used instead of fetching the same requests again.
    """
    with _long_lived_frozen():
        return _run_cycle(workspace, now, poll=poll, send=send, fetched=fetched)


@contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """Keep the garbage collector's full collections off the objects that live as long as
    the cycle: the modules, config and database engine there when it starts (and the
    signals and matcher, frozen once built, see _Intake.matcher). A cold cycle walked
    them again at each full collection, a tenth of its CPU in all with the young ones;
    frozen (gc.freeze), they are handed back to the collector when the cycle ends.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_cycle(
    workspace: Workspace,
    now: datetime | None,
    *,
    poll: Collection[str] | None,
    send: bool,
    fetched: dict[FetchRequest, FetchResult] | None,
) -> CycleReport:
    now = now or datetime.now(UTC)
    # Bad signal files stop the cycle before the database; the outline cache is valid only
    # while the files are those of a load that passed every check.
    workspace.outlines  # noqa: B018
    config, engine = workspace.config, workspace.engine
    report = CycleReport()
    with writing(engine) as session:
        run_id = queries.start_run(session, now).id
    worker = claims.worker_name()
    margins = _configured_sources(engine, workspace, poll)
    stories = _Stories(since=now - GROUPING_WINDOW)
    intervals = {s.name: s.interval for s in workspace.view.sources}
    try:
        with ParsePool(config.parse_workers) as pool:
            intake = _Intake(workspace, worker, now, stories, report, intervals, pool)
            while due := _claim_due(engine, config, worker, now, margins):
                # A batch is stored once all of it is fetched, in one short stretch: workers
                # side by side evaluate what is stored, and storing as each fetch ends would
                # show them a half-stored cycle for as long as its slowest feed takes.
                results = fetch(due, config.fetch, fetched)
                pool.expect(sum(len(r.body or b"") for r in results if r.status == "ok"))
                for source, result in zip(due, results, strict=True):
                    intake.add(source, result)
                intake.finish()
    finally:
        with writing(engine) as session:
            claims.release_all(session, worker)
    with writing(engine) as session:
        claims.exclusive(session, claims.EVALUATION)
        # Evaluation is left to the last worker still storing this cycle's batches:
        # evaluated earlier, a half-stored cycle would record changes (and their times)
        # that the whole cycle does not bear out. Each worker looks after releasing its
        # own claims, so the last to finish always sees no one busy and evaluates; a
        # worker that died holds evaluation back only until its claims run out.
        if not claims.busy_workers(session, worker, now):
            report.alerts = evaluate(session, workspace, now)
        configured = reads.list_sources(session, [s.name for s in config.sources])
        report.alerts += feed_alerts(session, configured, now, config.feed_failure_alert_after)
        baseline = None if config.alert_on_first_run else reads.first_run_started(session)
        report.unannounced.update(
            why
            for alert in report.alerts
            if (why := unannounced_reason(alert, baseline, config.announce_within)) is not None
        )
        queries.finish_run(
            session, run_id, now, "partial" if report.failed else "ok", report.summary()
        )
    if not send:
        return report
    report.digests = deliver(workspace, now)
    changed = bool(report.new_articles or report.alerts or report.failed)
    refresh_report(workspace, now, changed=changed)
    return report


@dataclass
class DryRun:
    """What a cycle would have done: its report, the articles it would have stored as
    (source, title, link) in the order it would have stored them, and the workspace of
    the copy it was done on, to read what else the cycle left there."""

    report: CycleReport
    articles: list[tuple[str, str, str]]
    workspace: Workspace


@contextmanager
def dry_run_cycle(
    workspace: Workspace, now: datetime | None = None, *, poll: Collection[str] | None = None
) -> Iterator[DryRun]:
    """`run_cycle` on a throw-away copy of the SQLite database, sending nothing: what a
    cycle would store and which alerts it would raise, the database left untouched.

    The copy is a snapshot taken through a read-only connection (a fresh database where
    none exists yet), so every step runs as in a real cycle, each of its transactions
    included, and only the copy changes: fetch state, run record, claims, articles,
    states and alerts. Fetching uses the stored etags, as a real cycle would. The copy
    is deleted when the context ends. Only an SQLite database file can be copied so
    (ValueError for any other).
    """
    with tempfile.TemporaryDirectory(prefix="allywatch-dry-run-") as folder:
        copy = Path(folder) / "dry-run.db"
        snapshot_sqlite(workspace.config.database, copy)
        trial = Workspace(workspace.config.model_copy(update={"database": f"sqlite:///{copy}"}))
        trial.signals = workspace.signals
        try:
            with reading(trial.engine) as session:
                stored = queries.last_article_id(session)
            report = run_cycle(trial, now, poll=poll, send=False)
            with reading(trial.engine) as session:
                articles = queries.articles_after(session, stored)
            yield DryRun(report, articles, trial)
        finally:
            if "engine" in vars(trial):  # opened (not failing to open)
                trial.engine.dispose()


# --- the steps -----------------------------------------------------------------


def fetch(
    sources: Sequence[Source],
    settings: FetchSettings,
    fetched: dict[FetchRequest, FetchResult] | None = None,
) -> list[FetchResult]:
    """Fetch every source (conditional GETs where it allows); one result per source, in
    order. A source whose very request is in `fetched` (by a quiet cycle that found news
    and handed over, see allywatch/quiet_cycle.py) takes that result instead, once."""
    requests = [FetchRequest(s.name, s.location, s.etag, s.last_modified) for s in sources]
    fetched = fetched if fetched is not None else {}
    taken = {r: result for r in requests if (result := fetched.pop(r, None)) is not None}
    missing = [r for r in requests if r not in taken]
    taken.update(zip(missing, fetch_all_sync(missing, settings) if missing else [], strict=True))
    return [taken[r] for r in requests]


def parse(
    pool: ParsePool, result: FetchResult, now: datetime, aggregator: bool = False
) -> Future[Parsed] | None:
    """Start parsing a fetched document in the parse pool; None when nothing was fetched
    (an error, or not modified since the last poll). An `aggregator` source's items are
    credited to the outlets they come from (see watchers/parse.py)."""
    if result.status != "ok":
        return None
    body, headers, location = result.body or b"", result.headers, result.final_location
    return pool.submit(body, headers, result.name, location, now, aggregator)


@dataclass
class KnownArticles:
    """The articles stored (or taken in) already, by uid and by link.

    An article is known when its uid or its link is: a feed may reissue an item
    under a new id, and several feeds may carry one link. An empty link
    identifies nothing. `legacy` holds (source, uid) of articles stored before
    GUIDs were per source (see parse.legacy_uid), so they are not taken in again.
    """

    uids: set[str] = field(default_factory=set)
    links: set[str] = field(default_factory=set)
    legacy: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def stored(cls, session: Session, articles: Sequence[Article]) -> KnownArticles:
        """Which of `articles` the database holds already."""
        from allywatch.watchers.parse import legacy_uid

        uids, links = queries.known_article_keys(
            session, [a.uid for a in articles], [a.link for a in articles]
        )
        earlier = [(a.source, legacy_uid(a.uid, a.source)) for a in articles]
        legacy = queries.stored_source_uids(session, [(s, u) for s, u in earlier if u])
        return cls(uids, links, legacy)

    def knows(self, article: Article) -> bool:
        """Whether `article` is known (by its uid, its link, or its uid of before)."""
        from allywatch.watchers.parse import legacy_uid

        if article.uid in self.uids or (article.link and article.link in self.links):
            return True
        return (article.source, legacy_uid(article.uid, article.source)) in self.legacy

    def take(self, article: Article) -> bool:
        """Whether `article` is new; a new one becomes known, so a later copy is not."""
        if self.knows(article):
            return False
        self.uids.add(article.uid)
        self.links.add(article.link)
        return True


def dedup(parsed: Parsed, known: KnownArticles) -> Parsed:
    """The articles not known yet, each once (its first copy); they become known."""
    return [(article, print_) for article, print_ in parsed if known.take(article)]


class Matched(NamedTuple):
    """An article, its fingerprint (for story grouping) and what the matcher read in it:
    the states it evidences, and the signals it nearly matched (for review)."""

    article: Article
    fingerprint: Fingerprint | None
    observations: list[Observation]
    near_misses: list[NearMiss]


def match(matcher: Matcher, parsed: Parsed) -> list[Matched]:
    """Read each article against every signal."""
    return [Matched(a, print_, *matcher.read(a.title, a.summary)) for a, print_ in parsed]


def store(
    session: Session, source: Source, matched: Sequence[Matched], now: datetime, stories: _Stories
) -> None:
    """Store the articles, each filed into its story, with their observations; keep
    their near-misses for review."""
    batch = [
        (m.article, stories.grouper.add_fingerprint(m.article.uid, m.fingerprint), m.observations)
        for m in matched
    ]
    if batch:
        stories.last_id = queries.add_articles(session, source, now, batch)
        near = [(m.article.uid, miss) for m in matched for miss in m.near_misses]
        review.add_near_misses(session, now, near)


def evaluate(session: Session, workspace: Workspace, now: datetime) -> list[Alert]:
    """Bring every signal's state up to date with the stored observations; the alerts raised."""
    config = workspace.config
    # What the first run finds in the feeds' backlog is the baseline, not news; with
    # alert_on_first_run it is all announced, however old.
    first = reads.first_run_started(session) == now
    return evaluate_signals(
        session,
        workspace,  # its signals are loaded only when one is due
        now,
        announce=not first or config.alert_on_first_run,
        announce_within=None if first else config.announce_within,
        weights=config.weights_by_name,
        tiers=config.source_tiers,
    )


def deliver(workspace: Workspace, now: datetime) -> DigestReport:
    """Send the digests that are due."""
    return send_due(workspace, now)


# --- around the steps ------------------------------------------------------------


def _configured_sources(
    engine: Engine, workspace: Workspace, poll: Collection[str] | None
) -> dict[int, timedelta]:
    """Make the sources table agree with the config (a changed interval reschedules a
    source); map the id of each source to poll to how early it may be polled
    (cycle_plan.poll_margins)."""
    sources = workspace.view.sources
    early = poll_margins(sources, poll)
    with writing(engine) as session:
        claims.exclusive(session, claims.SOURCES)
        rows = queries.sync_sources(session, [(s.name, s.location) for s in sources])
        queries.reschedule(rows, {s.name: s.interval for s in sources})
        return {s.id: early[s.name] for s in rows if s.name in early}


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
    def built(self) -> bool:
        """Whether the grouper holds the last week's articles yet."""
        return self._grouper is not None

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
    """Takes fetch results in the order they come and takes in each source's outcome,
    in that order, once its document is parsed (in the parse pool meanwhile): sources
    with articles a group at a time (see `_store_group`).

    A source that brings no articles (not modified, failed, or an empty feed) has only
    its fetch outcome to store: those are stored together, in one storing turn at the
    end of the batch, which spares a quiet cycle a transaction per source.
    """

    def __init__(
        self,
        workspace: Workspace,
        worker: str,
        now: datetime,
        stories: _Stories,
        report: CycleReport,
        intervals: dict[str, timedelta],
        pool: ParsePool,
    ) -> None:
        self.workspace, self.worker, self.now = workspace, worker, now
        self.pool = pool
        self.stories, self.report = stories, report
        self.intervals = intervals
        self.aggregators = {s.name for s in workspace.config.sources if s.aggregator}
        self.side_by_side = claims.side_by_side(workspace.engine)
        self.pending: deque[tuple[Source, FetchResult, Future[Parsed] | None]] = deque()
        self.outcomes_only: list[tuple[Source, FetchResult, tuple[str, str] | None]] = []
        self.group: list[tuple[Source, FetchResult, Parsed]] = []  # parsed, to be stored
        self.group_articles = 0
        self._matcher: Matcher | None = None
        # While every stored article is one this cycle took in (the database held none when
        # the cycle first looked, and no other worker has stored one since), these are the
        # known articles, and the database need not be asked; None once that no longer holds.
        self.ours: KnownArticles | None = None

    @property
    def matcher(self) -> Matcher:
        """Built on first use: a cycle in which no feed brings articles never compiles
        the signals' patterns."""
        if self._matcher is None:
            from allywatch.watchers.matcher import Matcher

            self._matcher = Matcher(self.workspace.signals)
            gc.freeze()  # the signals and matcher, for the rest of the cycle (_long_lived_frozen)
        return self._matcher

    def add(self, source: Source, result: FetchResult) -> None:
        aggregator = source.name in self.aggregators
        self.pending.append((source, result, parse(self.pool, result, self.now, aggregator)))
        while self.pending and (self.pending[0][2] is None or self.pending[0][2].done()):
            self._take_in(*self.pending.popleft())

    def finish(self) -> None:
        """Take in every outcome still waiting for its parse, helping the pool parse meanwhile."""
        while self.pending:
            parsed = self.pending[0][2]
            while parsed is not None and not parsed.done() and self.pool.help():
                pass
            self._take_in(*self.pending.popleft())
        self._store_group()
        if self.outcomes_only:
            with writing(self.workspace.engine) as session:
                claims.exclusive(session, claims.ARTICLES)
                ids = [source.id for source, _, _ in self.outcomes_only]
                rows = claims.release_sources(session, ids, self.worker)
                for source, result, error in self.outcomes_only:
                    self._store(session, rows.get(source.id), result, error, [])
            self.outcomes_only.clear()

    def _take_in(self, source: Source, result: FetchResult, parsed: Future[Parsed] | None) -> None:
        """Add a source's articles to the group to store (storing a group that is full);
        or keep its outcome for the batch's end."""
        self.report.polled += 1
        articles, error = _outcome(result, parsed)
        if not articles:
            self.outcomes_only.append((source, result, error))
            return
        self.group.append((source, result, articles))
        self.group_articles += len(articles)
        if self.group_articles >= GROUP_ARTICLES:
            self._store_group()

    def _store_group(self) -> None:
        """Match the group's articles not stored before, then, in one storing turn, store
        each source's new ones and its fetch state, source by source in order.

        Which articles are new is settled in the turn, source by source, as storing
        each source in a turn of its own would settle it: a copy of an article stored
        before the group is never matched, a copy of one an earlier source of the group
        brings is matched and then dropped (and, if another worker stored articles
        meanwhile, the database is asked again). On a database that held no article
        when the cycle began, and in which only this cycle stores, the known articles
        are the ones it took in, and it is not asked.
        """
        if not self.group:
            return
        group, self.group, self.group_articles = self.group, [], 0
        engine = self.workspace.engine
        with reading(engine) as session:
            # Building the story grouper here leaves the turn little to do; so does catching
            # up with what other workers stored, where they store side by side (on SQLite
            # only this worker stores, and the turn's catch-up finds that out in one query).
            if not self.stories.built or self.side_by_side:
                first = not self.stories.built
                if self.stories.catch_up(session):
                    self.ours = None  # another worker stored articles
                elif first and self.stories.last_id == 0:
                    self.ours = KnownArticles()  # the database holds no article yet
            known = self.ours
            if known is None:
                every = [a for _, _, parsed in group for a, _ in parsed]
                known = KnownArticles.stored(session, every)
        matched = [
            match(self.matcher, [(a, p) for a, p in parsed if not known.knows(a)])
            for _, _, parsed in group
        ]
        with writing(engine) as session:
            claims.exclusive(session, claims.ARTICLES)
            rows = claims.release_sources(
                session, [source.id for source, _, _ in group], self.worker
            )
            if self.stories.catch_up(session):  # another worker stored articles meanwhile
                self.ours = None
                known = KnownArticles.stored(session, [m.article for f in matched for m in f])
            stored: list[Article] = []
            for (source, result, _), found in zip(group, matched, strict=True):
                row = rows.get(source.id)
                new = [m for m in found if known.take(m.article)] if row is not None else []
                stored += [m.article for m in new]
                self._store(session, row, result, None, new)
        if self.ours is not None:
            # What the database now answers for uids of before (KnownArticles.stored), the
            # group's articles included: from the next group on, as a query would.
            self.ours.legacy.update((article.source, article.uid) for article in stored)

    def _store(
        self,
        session: Session,
        row: Source | None,
        result: FetchResult,
        error: tuple[str, str] | None,
        matched: list[Matched],
    ) -> None:
        """In the storing turn: a source's new articles and its fetch state (or its failure).
        `row`: the source as released from this worker's claim (None: the claim ran out
        and another worker polls the source now)."""
        if row is None:
            return
        if error is not None:
            self._record_failure(session, row, result, error)
            return
        store(session, row, matched, self.now, self.stories)
        queries.record_fetch_success(
            session,
            row,
            now=self.now,
            location=result.final_location,
            etag=result.etag,
            last_modified=result.last_modified,
            next_poll_at=self.now + next_poll_delay(0, result.retry_after, self._interval(row)),
            new_articles=len(matched),
        )
        self.report.new_articles += len(matched)
        self.report.observations += sum(len(m.observations) for m in matched)

    def _record_failure(
        self, session: Session, source: Source, result: FetchResult, error: tuple[str, str]
    ) -> None:
        self.report.failed.append((source.name, f"{error[0]}: {error[1]}"))
        failures = (source.consecutive_failures or 0) + 1
        delay = next_poll_delay(failures, result.retry_after, self._interval(source))
        queries.record_fetch_failure(
            session,
            source,
            now=self.now,
            kind=error[0],
            message=error[1],
            next_poll_at=self.now + delay,
        )

    def _interval(self, source: Source) -> timedelta:
        return self.intervals[source.name]


def _outcome(
    result: FetchResult, parsed: Future[Parsed] | None
) -> tuple[Parsed, tuple[str, str] | None]:
    """A source's articles, or what went wrong as (kind, message)."""
    if result.status == "error":
        return [], (result.error_kind or "error", _printable(result.error or "fetch failed"))
    if parsed is None:
        return [], None  # not modified
    from allywatch.watchers.parse import FeedParseError

    try:
        return parsed.result(), None
    except FeedParseError as exc:
        return [], ("parse", _printable(str(exc)))
    except BrokenExecutor as exc:  # a parse worker died (killed, out of memory)
        return [], ("parse", f"the parsing process died: {exc}")


def _printable(message: str) -> str:
    """An error message fit for a terminal and a log: feed bytes quoted in it may be binary."""
    return "".join(c if c.isprintable() else "?" for c in message.replace("\ufffd", "?"))
