"""Parsing feed documents on every core, once a cycle has enough to parse.

feedparser is pure Python and most of a busy cycle's CPU time: with several
cores, documents are parsed in worker processes while the cycle stores what is
already parsed. The workers also take each article's story fingerprint (see
dedup.py), the part of grouping that needs no other article.

Workers pay for themselves only on a large cycle. Starting them costs a fraction
of a second and each holds its own copy of the parser (a fork server and two
workers added 85 MB to a cycle of 100 feeds x 50 items, 3.7 MB, and bought no
wall time on a busy 2-core machine: bench_peers.py), while on 200 feeds x 100
items (14.5 MB) they cut the cycle's wall time from 1.8x to 1.1x feedparser's
alone on a quiet machine, and from 2.1x to 1.8x on a loaded one (bench_cycle.py).
So a cycle parses inline until the bytes it was given, or announced with
`expect()` (a fetched batch), pass `threshold`, DEFAULT_THRESHOLD 8 MB: about
three seconds of parsing on one core, past which the workers save more wall time
than they cost to start. A quiet cycle never starts a process.

Workers come from a fork server (not a fork of the cycle, whose fetch thread
may hold locks) that has imported the parser once; they end with the pool, or
when the cycle's process dies.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from collections.abc import Mapping
from concurrent.futures import BrokenExecutor, Future
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from allywatch.language.records import Article

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from allywatch.watchers.dedup import Fingerprint

Parsed = list[tuple[Article, "Fingerprint | None"]]
# parse_document's arguments: body, headers, source name, location, now, aggregator.
_Args = tuple[bytes, dict[str, str], str, str, datetime, bool]

# What the fork server imports once, for every worker it starts.
_PARSE_STACK = ["allywatch.watchers.parse", "allywatch.watchers.dedup", __name__]
DEFAULT_THRESHOLD = 8_000_000  # bytes: about three seconds of parsing on one core
MAX_DEFAULT_WORKERS = 4


def parse_document(
    body: bytes,
    headers: Mapping[str, str],
    source_name: str,
    location: str,
    now: datetime,
    aggregator: bool = False,
) -> Parsed:
    """`parse_feed`, each article with its story fingerprint."""
    # Imported on first use: a cycle that parses nothing (every feed not modified)
    # does without feedparser and the rest of the parse stack.
    from allywatch.watchers.dedup import fingerprint
    from allywatch.watchers.parse import parse_feed

    articles = parse_feed(body, headers, source_name, location, now, aggregator=aggregator)
    return [(article, fingerprint(article.title, article.summary)) for article in articles]


def default_workers() -> int:
    """A worker per core this process may use, at most MAX_DEFAULT_WORKERS; none on a
    single core, where workers would only add the cost of handing documents over.

    Not one core fewer for the cycle's own work: it waits for parsed documents
    often enough that a worker on its core measured faster (bench_cycle.py).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(MAX_DEFAULT_WORKERS, cores)


class ParsePool:
    """`parse_document` as futures: inline at first, in worker processes past `threshold`
    bytes.

    Documents wait in a queue of their own and go to the workers a few at a
    time, so that the cycle's process can `help()`: while it waits for the
    document it needs next, it parses the one it will need last itself, and the
    work is shared between the workers and the cycle's own core.

    With `workers` 0 every document is parsed inline. Use as a context manager:
    leaving it waits for nothing and stops the workers.
    """

    def __init__(self, workers: int | None = None, threshold: int | None = None) -> None:
        self.workers = default_workers() if workers is None else workers
        if self.workers < 0:
            raise ValueError(f"parse workers cannot be negative, got {self.workers}")
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self.submitted = 0  # bytes
        self.expected = 0  # bytes submitted once the announced ones are
        self._executor: ProcessPoolExecutor | None = None
        self._waiting: deque[tuple[Future[Parsed], _Args]] = deque()
        self._in_flight = 0
        self._lock = threading.RLock()  # a done callback may run inside _dispatch

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def started(self) -> bool:
        """Whether worker processes were started."""
        return self._executor is not None

    def expect(self, size: int) -> None:
        """Announce `size` bytes about to be submitted (a fetched batch): past the threshold,
        the workers take the batch from its first document, instead of after `threshold`
        bytes of it were parsed inline."""
        self.expected = max(self.expected, self.submitted + size)

    def submit(
        self,
        body: bytes,
        headers: Mapping[str, str],
        source_name: str,
        location: str,
        now: datetime,
        aggregator: bool = False,
    ) -> Future[Parsed]:
        """The articles of one document with their fingerprints (or the FeedParseError
        `parse_feed` raises; BrokenProcessPool if a worker died), once parsed."""
        self.submitted += len(body)
        future: Future[Parsed] = Future()
        args: _Args = (body, dict(headers), source_name, location, now, aggregator)
        if (
            self._executor is None
            and self.workers
            and max(self.submitted, self.expected) > self.threshold
        ):
            self._executor = _start_workers(self.workers)
        if self._executor is None:
            _parse_into(future, args)
            return future
        with self._lock:
            self._waiting.append((future, args))
            self._dispatch()
        return future

    def help(self) -> bool:
        """Parse in this process the waiting document queued last; False if none waits."""
        with self._lock:
            if not self._waiting:
                return False
            future, args = self._waiting.pop()
        _parse_into(future, args)
        return True

    def close(self) -> None:
        """Stop the workers; documents not parsed yet are dropped."""
        if self._executor is not None:
            with self._lock:
                self._waiting.clear()
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _dispatch(self) -> None:
        """Keep each worker busy with one document and one more queued."""
        with self._lock:
            while self._executor and self._waiting and self._in_flight < 2 * self.workers:
                future, args = self._waiting.popleft()
                try:
                    running = self._executor.submit(parse_document, *args)
                except BrokenExecutor as exc:  # a worker died: fail what waits, not hang
                    for waiting, _ in [(future, args), *self._waiting]:
                        waiting.set_exception(exc)
                    self._waiting.clear()
                    return
                self._in_flight += 1
                running.add_done_callback(partial(self._finished, future))

    def _finished(self, future: Future[Parsed], running: Future[Parsed]) -> None:
        with self._lock:
            self._in_flight -= 1
        if running.cancelled():
            future.cancel()
        elif (error := running.exception()) is not None:
            future.set_exception(error)
        else:
            future.set_result(running.result())
        self._dispatch()


def _start_workers(workers: int) -> ProcessPoolExecutor:
    """`workers` processes from a fork server that has imported the parse stack.
    multiprocessing is imported here, by the cycles that start workers only."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PARSE_STACK)
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_leave_signals_to_the_cycle)


def _leave_signals_to_the_cycle() -> None:
    """Workers ignore Ctrl-C and SIGTERM, which reach the whole process group: the cycle
    decides (it finishes its step, then closes the pool), and no worker dies with a
    traceback on the user's terminal."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _parse_into(future: Future[Parsed], args: _Args) -> None:
    try:
        future.set_result(parse_document(*args))
    except Exception as exc:  # noqa: BLE001 - handed to the caller like a worker's
        future.set_exception(exc)
