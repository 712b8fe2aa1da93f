"""One cycle: poll the due sources, store new articles, match them, evaluate, alert.

This is the only place where the three step packages meet: watchers produce
articles and observations, store keeps them, alerts turns them into state.
Each source's results are written in one transaction, so a cycle killed
half-way leaves whole sources stored and the rest for the next cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from alerts.dispatch import DigestReport
from alerts.evaluate import evaluate
from allywatch.config import Config, SourceConfig
from allywatch.digests import send_due
from allywatch.workspace import Workspace
from store import queries
from store.engine import writing
from store.models import Alert, Source
from watchers.dedup import StoryGrouper
from watchers.fetch import FetchRequest, FetchResult, FetchSettings, fetch_all_sync, next_poll_delay
from watchers.matcher import Matcher
from watchers.model import Article
from watchers.parse import FeedParseError, parse_feed
from watchers.sources import SourceSpec, source_location

GROUPING_WINDOW = timedelta(days=7)
EARLY_MAX = timedelta(minutes=1)


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
    config, engine = workspace.config, workspace.engine
    report = CycleReport()
    with writing(engine) as session:
        run_id = queries.start_run(session, now).id
    due = _due_sources(engine, config, now)
    results = fetch_all_sync(
        [FetchRequest(s.name, s.location, s.etag, s.last_modified) for s in due],
        _fetch_settings(config),
    )
    matcher = Matcher(workspace.signals)
    grouper = _story_grouper(engine, now)
    intervals = {s.name: s.interval or config.poll_interval for s in config.sources}
    for source, result in zip(due, results, strict=True):
        report.polled += 1
        _store_result(
            workspace, source.id, result, now, intervals[source.name], matcher, grouper, report
        )
    with writing(engine) as session:
        # Changes dated before allywatch first ran are the backlog: the baseline, not news.
        backlog = None if config.alert_on_first_run else queries.first_run_started(session)
        report.alerts = evaluate(session, workspace.signals, now, backlog_before=backlog)
        queries.finish_run(
            session, run_id, now, "partial" if report.failed else "ok", report.summary()
        )
    report.digests = send_due(workspace, now)
    return report


def source_spec(source: SourceConfig) -> SourceSpec:
    return SourceSpec(
        name=source.name,
        url=source.url,
        google_news=source.google_news,
        gdelt=source.gdelt,
        path=source.path,
        language=source.language,
        region=source.region,
        interval=source.interval,
    )


def _due_sources(engine: Engine, config: Config, now: datetime) -> list[Source]:
    """The sources whose next poll has come, or comes within a tenth of their interval.

    The margin (at most EARLY_MAX) keeps a source on its interval when runs come
    exactly as often: a cron run or serve tick that starts a second before the
    source's time must poll it, not leave it for the run after.
    """
    early = {
        s.name: min((s.interval or config.poll_interval) / 10, EARLY_MAX) for s in config.sources
    }
    with writing(engine) as session:
        sources = queries.sync_sources(
            session, [(s.name, source_location(source_spec(s))) for s in config.sources]
        )
        return [
            s for s in sources if s.next_poll_at is None or s.next_poll_at <= now + early[s.name]
        ]


def _fetch_settings(config: Config) -> FetchSettings:
    f = config.fetch
    return FetchSettings(
        concurrency=f.concurrency,
        per_host=f.per_host,
        connect_timeout=f.connect_timeout,
        read_timeout=f.read_timeout,
        deadline=f.deadline,
        max_bytes=f.max_bytes,
    )


def _story_grouper(engine: Engine, now: datetime) -> StoryGrouper:
    """A grouper that knows the stories of the last week, so new copies join them."""
    grouper = StoryGrouper()
    with writing(engine) as session:
        for uid, title, summary, _story in queries.recent_articles(session, now - GROUPING_WINDOW):
            grouper.add(uid, title, summary)
    return grouper


def _store_result(
    workspace: Workspace,
    source_id: int,
    result: FetchResult,
    now: datetime,
    interval: timedelta,
    matcher: Matcher,
    grouper: StoryGrouper,
    report: CycleReport,
) -> None:
    articles: list[Article] = []
    error: tuple[str, str] | None = None
    if result.status == "error":
        error = (result.error_kind or "error", result.error or "fetch failed")
    elif result.status == "ok":
        try:
            articles = parse_feed(
                result.body or b"", result.headers, result.name, result.final_location, now
            )
        except FeedParseError as exc:
            error = ("parse", str(exc))
    with writing(workspace.engine) as session:
        source = session.get(Source, source_id)
        assert source is not None
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
        new = _store_articles(session, source, articles, now, matcher, grouper, report)
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


def _store_articles(
    session, source: Source, articles, now, matcher: Matcher, grouper: StoryGrouper, report
) -> int:
    known_uids, known_links = queries.known_article_keys(
        session, [a.uid for a in articles], [a.link for a in articles]
    )
    new = 0
    for article in articles:
        if article.uid in known_uids or article.link in known_links:
            continue
        known_uids.add(article.uid)
        known_links.add(article.link)
        stored = queries.add_article(
            session,
            uid=article.uid,
            link=article.link,
            title=article.title,
            summary=article.summary,
            published_at=article.published,
            first_seen_at=now,
            source_id=source.id,
            source_name=source.name,
            outlet=article.outlet or source.name,
            story=grouper.add(article.uid, article.title, article.summary),
        )
        observations = matcher.match(article.title, article.summary)
        report.observations += queries.add_observations(
            session, stored, [o.to_json() for o in observations]
        )
        new += 1
    report.new_articles += new
    return new
