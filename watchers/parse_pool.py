"""Parsing feed documents on every core, once a cycle has enough to parse.

feedparser is pure Python and most of a busy cycle's CPU time: with several
cores, documents are parsed in worker processes while the cycle stores what is
already parsed. The workers also take each article's story fingerprint (see
dedup.py), the part of grouping that needs no other article. Starting workers
costs a fraction of a second, so a cycle parses inline until the bytes it was
given pass `threshold`; a quiet cycle never starts a process.

Workers come from a fork server (not a fork of the cycle, whose fetch thread
may hold locks) that has imported the parser once; they end with the pool, or
when the cycle's process dies.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime

from watchers.dedup import Fingerprint, fingerprint
from watchers.model import Article
from watchers.parse import parse_feed

Parsed = list[tuple[Article, Fingerprint | None]]

DEFAULT_THRESHOLD = 1_000_000  # bytes: about a quarter of a second of parsing
MAX_DEFAULT_WORKERS = 4


def parse_document(
    body: bytes, headers: Mapping[str, str], source_name: str, location: str, now: datetime
) -> Parsed:
    """`parse_feed`, each article with its story fingerprint."""
    articles = parse_feed(body, headers, source_name, location, now)
    return [(article, fingerprint(article.title, article.summary)) for article in articles]


def default_workers() -> int:
    """A worker per core this process may use but one (the cycle's own work needs a
    core), at most MAX_DEFAULT_WORKERS; none on a single core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(MAX_DEFAULT_WORKERS, cores - 1))


class ParsePool:
    """`parse_document` as futures: inline at first, in worker processes past `threshold`
    bytes.

    With `workers` 0 every document is parsed inline. Use as a context manager:
    leaving it waits for nothing and stops the workers.
    """

    def __init__(self, workers: int | None = None, threshold: int | None = None) -> None:
        self.workers = default_workers() if workers is None else workers
        if self.workers < 0:
            raise ValueError(f"parse workers cannot be negative, got {self.workers}")
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self.submitted = 0  # bytes
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def started(self) -> bool:
        """Whether worker processes were started."""
        return self._executor is not None

    def submit(
        self,
        body: bytes,
        headers: Mapping[str, str],
        source_name: str,
        location: str,
        now: datetime,
    ) -> Future[Parsed]:
        """The articles of one document with their fingerprints (or the FeedParseError
        `parse_feed` raises), once parsed."""
        self.submitted += len(body)
        if self._executor is None and self.workers and self.submitted > self.threshold:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["watchers.parse_pool"])
            self._executor = ProcessPoolExecutor(self.workers, mp_context=context)
        if self._executor is not None:
            return self._executor.submit(
                parse_document, body, dict(headers), source_name, location, now
            )
        done: Future[Parsed] = Future()
        try:
            done.set_result(parse_document(body, headers, source_name, location, now))
        except Exception as exc:  # noqa: BLE001 - handed to the caller like a worker's
            done.set_exception(exc)
        return done

    def close(self) -> None:
        """Stop the workers; documents not parsed yet are dropped."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
