"""Results handed over as each fetch ends, from a background thread that never outlives its use."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest
from feedserver import FeedServer, Reply, serve_feeds  # noqa: F401 (the feed_server fixture)

from watchers.fetch import FetchRequest, FetchSettings, fetch_each_sync

RSS = b"<rss version='2.0'><channel><title>Fine</title></channel></rss>"
SETTINGS = FetchSettings(connect_timeout=2, read_timeout=20, deadline=30, per_host=16)


def fetch_threads() -> list[threading.Thread]:
    """The batch's thread, and the worker threads its event loop reads local files in."""
    return [
        t
        for t in threading.enumerate()
        if t.name == "allywatch-fetch" or t.name.startswith("asyncio_")
    ]


@pytest.fixture(autouse=True)
def no_fetch_thread_survives():
    yield
    assert fetch_threads() == []


def test_results_arrive_as_each_fetch_ends_not_when_the_batch_does(
    feed_server: FeedServer,
) -> None:
    slow = FetchRequest("slow", feed_server.route("/slow", Reply(body=RSS, delay=3)))
    fast = [
        FetchRequest(f"fast-{i}", feed_server.route(f"/fast-{i}", Reply(body=RSS)))
        for i in range(9)
    ]
    started = time.monotonic()
    arrivals = {}
    for result in fetch_each_sync([slow, *fast], SETTINGS):
        arrivals[result.name] = time.monotonic() - started
        assert result.status == "ok" and result.body == RSS

    order = sorted(arrivals, key=arrivals.get)
    assert set(order[:9]) == {r.name for r in fast}
    assert order[9] == "slow"
    assert arrivals["slow"] >= 3
    # The nine quick ones do not wait for the slow one.
    assert max(arrivals[r.name] for r in fast) < arrivals["slow"] - 1.5


def test_fetching_goes_on_while_the_caller_works_on_a_result(feed_server: FeedServer) -> None:
    requests = [
        FetchRequest(f"feed-{i}", feed_server.route(f"/{i}", Reply(body=RSS, delay=0.3)))
        for i in range(5)
    ]
    results = []
    for result in fetch_each_sync(requests, SETTINGS):
        results.append(result)
        time.sleep(0.8)  # storing and matching one source's articles
    assert len(results) == 5 and all(r.status == "ok" for r in results)
    # Each fetch took about its server's delay: none waited for the caller's work.
    assert all(r.elapsed < 0.8 for r in results), [round(r.elapsed, 2) for r in results]


def test_the_same_limits_hold_as_for_a_whole_batch(feed_server: FeedServer) -> None:
    url = feed_server.route("/slow", Reply(body=RSS, delay=0.3))
    settings = FetchSettings(concurrency=10, per_host=2, deadline=30)
    results = list(fetch_each_sync([FetchRequest(str(i), url) for i in range(6)], settings))
    assert sorted(r.name for r in results) == [str(i) for i in range(6)]
    assert all(r.status == "ok" for r in results)
    assert feed_server.max_in_flight == 2

    late = feed_server.route("/late", Reply(body=RSS, delay=10))
    settings = FetchSettings(deadline=1)
    (timed_out,) = fetch_each_sync([FetchRequest("late", late)], settings)
    assert timed_out.error_kind == "timeout" and "deadline" in timed_out.error


def test_closing_early_cancels_the_fetches_and_ends_the_thread(feed_server: FeedServer) -> None:
    requests = [FetchRequest("fast", feed_server.route("/fast", Reply(body=RSS)))]
    requests += [
        FetchRequest(f"hung-{i}", feed_server.route(f"/hung-{i}", Reply(body=RSS, delay=20)))
        for i in range(4)
    ]
    results = fetch_each_sync(requests, SETTINGS)
    assert fetch_threads() == []  # nothing starts before the first result is asked for
    assert next(results).name == "fast"
    assert len(fetch_threads()) == 1

    started = time.monotonic()
    results.close()
    assert time.monotonic() - started < 2
    assert fetch_threads() == []
    assert list(results) == []


def test_an_error_in_the_callers_loop_ends_the_thread(feed_server: FeedServer) -> None:
    requests = [FetchRequest("fast", feed_server.route("/fast", Reply(body=RSS)))]
    requests.append(FetchRequest("hung", feed_server.route("/hung", Reply(body=RSS, delay=20))))

    started = time.monotonic()
    with (
        pytest.raises(RuntimeError, match="database is locked"),
        closing(fetch_each_sync(requests, SETTINGS)) as results,
    ):
        for _ in results:
            raise RuntimeError("database is locked")
    assert time.monotonic() - started < 2
    assert fetch_threads() == []

    # Without closing(), dropping the iterator on the way out does the same.
    def consume() -> None:
        for _ in fetch_each_sync(requests, SETTINGS):
            raise RuntimeError("database is locked")

    with pytest.raises(RuntimeError):
        consume()
    assert fetch_threads() == []


def test_local_files_and_an_empty_batch(tmp_path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(RSS)
    (result,) = fetch_each_sync([FetchRequest("local", str(feed))], SETTINGS)
    assert result.status == "ok" and result.body == RSS
    assert list(fetch_each_sync([], SETTINGS)) == []


def test_repeated_names_are_refused_before_anything_is_fetched(feed_server: FeedServer) -> None:
    url = feed_server.route("/feed", Reply(body=RSS))
    with pytest.raises(ValueError, match="repeated: TASS"):
        fetch_each_sync([FetchRequest("TASS", url), FetchRequest("TASS", url)], SETTINGS)
    assert feed_server.requests_to("/feed") == []
