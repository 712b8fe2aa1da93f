"""The fetcher against a real misbehaving HTTP server on 127.0.0.1."""

from __future__ import annotations

import random
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from feedserver import FeedServer, Reply, gzip_bomb, zeros

from allywatch.watchers.fetch import (
    FetchRequest,
    fetch_all_sync,
    next_poll_delay,
    parse_retry_after,
)
from allywatch.watchers.fetch_settings import FetchSettings

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>
<item><title>Story</title><link>https://example.org/a</link></item></channel></rss>"""
FAST = FetchSettings(connect_timeout=2, read_timeout=1, deadline=2, max_bytes=1_000_000)
SLACK = 3.0  # seconds allowed on top of a limit for scheduling on a busy machine


def fetch_one(url: str, settings: FetchSettings = FAST, **kw: str):
    return fetch_all_sync([FetchRequest("feed", url, **kw)], settings)[0]


def test_plain_fetch_returns_body_headers_and_validators(feed_server: FeedServer) -> None:
    url = feed_server.route(
        "/feed.xml",
        Reply(
            body=RSS,
            headers={"Content-Type": "application/rss+xml; charset=utf-8"},
            etag='"v1"',
            last_modified="Mon, 02 Jan 2023 10:00:00 GMT",
        ),
    )
    result = fetch_one(url)
    assert result.status == "ok"
    assert result.body == RSS
    assert result.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert result.headers["content-location"] == url
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 02 Jan 2023 10:00:00 GMT"
    assert result.final_location == url
    assert result.error_kind is None
    sent = feed_server.requests_to("/feed.xml")[0]
    assert sent["user-agent"].startswith("allywatch/")


def test_conditional_get_sends_validators_and_304_costs_no_body(feed_server: FeedServer) -> None:
    url = feed_server.route(
        "/feed.xml", Reply(body=RSS, etag='"v1"', last_modified="Mon, 02 Jan 2023 10:00:00 GMT")
    )
    first = fetch_one(url)
    second = fetch_one(url, etag=first.etag, last_modified=first.last_modified)

    first_sent, second_sent = feed_server.requests_to("/feed.xml")
    assert "if-none-match" not in first_sent
    assert second_sent["if-none-match"] == '"v1"'
    assert second_sent["if-modified-since"] == "Mon, 02 Jan 2023 10:00:00 GMT"
    assert second.status == "not-modified"
    assert second.body is None
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)


def test_validators_are_only_taken_from_a_200(feed_server: FeedServer) -> None:
    # A 304 carrying other validators, and an error, both keep the stored ones.
    url_304 = feed_server.route("/304", Reply(status=304, headers={"ETag": '"other"'}))
    url_500 = feed_server.route("/500", Reply(status=500, headers={"ETag": '"broken"'}))
    results = fetch_all_sync(
        [
            FetchRequest(
                "a", url_304, etag='"mine"', last_modified="Sun, 01 Jan 2023 00:00:00 GMT"
            ),
            FetchRequest("b", url_500, etag='"mine"'),
        ],
        FAST,
    )
    assert results[0].status == "not-modified"
    assert results[0].etag == '"mine"'
    assert results[0].last_modified == "Sun, 01 Jan 2023 00:00:00 GMT"
    assert results[1].status == "error"
    assert results[1].etag == '"mine"'


def test_misbehaving_servers_fail_clearly_in_bounded_time_without_harming_the_batch(
    feed_server: FeedServer,
) -> None:
    routes = {
        "/good-1": Reply(body=RSS),
        "/slow": Reply(body=RSS, delay=10),
        "/drip": Reply(body=RSS * 10, drip=0.2),
        "/500": Reply(status=500),
        "/503": Reply(status=503, headers={"Retry-After": "120"}),
        "/429": Reply(status=429, headers={"Retry-After": "30"}),
        "/loop-a": Reply(status=302, headers={"Location": "/loop-b"}),
        "/loop-b": Reply(status=301, headers={"Location": "/loop-a"}),
        "/huge-declared": Reply(stream=zeros(60_000_000), length=60_000_000),
        "/huge-streamed": Reply(stream=zeros(60_000_000), length=None),
        "/gzip-bomb": Reply(body=gzip_bomb(64 << 20), headers={"Content-Encoding": "gzip"}),
        "/not-http": Reply(raw=b"\x00\x01garbage that is not HTTP\r\n\r\n"),
        "/good-2": Reply(body=RSS),
    }
    requests = [
        FetchRequest(path, feed_server.route(path, reply)) for path, reply in routes.items()
    ]
    started = time.monotonic()
    results = {r.name: r for r in fetch_all_sync(requests, FAST)}
    wall = time.monotonic() - started

    expected_kinds = {
        "/good-1": None,
        "/slow": "timeout",
        "/drip": "timeout",
        "/500": "http-500",
        "/503": "http-503",
        "/429": "http-429",
        "/loop-a": "redirect-loop",
        "/loop-b": "redirect-loop",
        "/huge-declared": "too-large",
        "/huge-streamed": "too-large",
        "/gzip-bomb": "too-large",
        "/not-http": "protocol",
        "/good-2": None,
    }
    assert {name: r.error_kind for name, r in results.items()} == expected_kinds
    for name in ("/good-1", "/good-2"):
        assert results[name].status == "ok" and results[name].body == RSS
    for name, result in results.items():
        assert result.elapsed <= FAST.deadline + SLACK, name
        if result.status == "error":
            assert result.error and result.body is None, name
    assert results["/503"].retry_after == timedelta(seconds=120)
    assert results["/429"].retry_after == timedelta(seconds=30)
    assert results["/500"].retry_after is None
    assert "deadline" in results["/drip"].error
    assert "/loop-b" in results["/loop-a"].error
    assert wall <= FAST.deadline + SLACK


def test_gzip_and_deflate_bodies_are_decoded_for_the_parser(feed_server: FeedServer) -> None:
    gz = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    bodies = {
        "/gzip": (gz.compress(RSS) + gz.flush(), "gzip"),
        "/deflate": (zlib.compress(RSS), "deflate"),
        "/raw-deflate": (raw_deflate.compress(RSS) + raw_deflate.flush(), "deflate"),
    }
    requests = [
        FetchRequest(path, feed_server.route(path, Reply(body=b, headers={"Content-Encoding": e})))
        for path, (b, e) in bodies.items()
    ]
    for result in fetch_all_sync(requests, FAST):
        assert result.status == "ok", result.error
        assert result.body == RSS
        assert "content-encoding" not in result.headers
    assert "gzip" in feed_server.requests_to("/gzip")[0]["accept-encoding"]


def test_body_cap_applies_to_the_inflated_size(feed_server: FeedServer) -> None:
    settings = FetchSettings(max_bytes=1000)
    packed = zlib.compress(b"<rss>" + b" " * 5000 + b"</rss>")
    assert len(packed) < 1000
    url = feed_server.route("/packed", Reply(body=packed, headers={"Content-Encoding": "deflate"}))
    result = fetch_one(url, settings)
    assert result.error_kind == "too-large"


def test_bad_compressed_body_is_an_encoding_error(feed_server: FeedServer) -> None:
    url = feed_server.route(
        "/bad-gzip", Reply(body=b"this is not gzip at all", headers={"Content-Encoding": "gzip"})
    )
    result = fetch_one(url)
    assert result.error_kind == "bad-encoding"


def test_permanent_redirect_moves_the_stored_url_and_temporary_does_not(
    feed_server: FeedServer,
) -> None:
    feed_server.route("/feed", Reply(body=RSS))
    feed_server.route("/old", Reply(status=301, headers={"Location": "/feed"}))
    feed_server.route("/older", Reply(status=308, headers={"Location": "/old"}))
    feed_server.route("/temp", Reply(status=302, headers={"Location": "/feed"}))
    feed_server.route("/moved-then-temp", Reply(status=301, headers={"Location": "/temp"}))
    names = ["/old", "/older", "/temp", "/moved-then-temp"]
    results = fetch_all_sync([FetchRequest(n, feed_server.url(n)) for n in names], FAST)
    final = {r.name: r.final_location for r in results}
    assert all(r.status == "ok" and r.body == RSS for r in results)
    assert final == {
        "/old": feed_server.url("/feed"),
        "/older": feed_server.url("/feed"),
        "/temp": feed_server.url("/temp"),
        "/moved-then-temp": feed_server.url("/temp"),
    }
    # The parser resolves relative links against where the body really came from.
    assert all(r.headers["content-location"] == feed_server.url("/feed") for r in results)


def test_redirect_chains_are_bounded(feed_server: FeedServer) -> None:
    for i in range(10):
        feed_server.route(f"/hop{i}", Reply(status=302, headers={"Location": f"/hop{i + 1}"}))
    feed_server.route("/hop10", Reply(body=RSS))
    settings = FetchSettings(max_redirects=5)
    result = fetch_one(feed_server.url("/hop0"), settings)
    assert result.error_kind == "redirect-loop"
    assert "more than 5 redirects" in result.error
    assert len(feed_server.requests_to("/hop6")) == 0
    assert fetch_one(feed_server.url("/hop5"), settings).status == "ok"


def test_unreachable_and_malformed_locations_are_errors_not_exceptions() -> None:
    results = fetch_all_sync(
        [
            FetchRequest("refused", "http://127.0.0.1:9/feed"),
            FetchRequest("bad-url", "http://[not a host/feed"),
            FetchRequest("no-host", "https://"),
        ],
        FAST,
    )
    assert results[0].error_kind == "connect"
    assert [r.error_kind for r in results[1:]] == ["bad-url", "bad-url"]
    assert "http://[not a host/feed" in results[1].error


def test_per_host_limit_caps_parallel_requests_to_one_host(feed_server: FeedServer) -> None:
    url = feed_server.route("/slow", Reply(body=RSS, delay=0.3))
    settings = FetchSettings(concurrency=10, per_host=2)
    results = fetch_all_sync([FetchRequest(str(i), url) for i in range(6)], settings)
    assert all(r.status == "ok" for r in results)
    assert feed_server.max_in_flight == 2


def test_global_limit_caps_parallel_requests(feed_server: FeedServer) -> None:
    url = feed_server.route("/slow", Reply(body=RSS, delay=0.3))
    settings = FetchSettings(concurrency=3, per_host=10)
    results = fetch_all_sync([FetchRequest(str(i), url) for i in range(9)], settings)
    assert all(r.status == "ok" for r in results)
    assert feed_server.max_in_flight == 3


def test_results_come_back_in_request_order(feed_server: FeedServer) -> None:
    feed_server.route("/slow", Reply(body=b"slow", delay=0.4))
    feed_server.route("/fast", Reply(body=b"fast"))
    names = ["/slow", "/fast", "/slow", "/fast"]
    results = fetch_all_sync([FetchRequest(n, feed_server.url(n)) for n in names], FAST)
    assert [r.body for r in results] == [b"slow", b"fast", b"slow", b"fast"]


def test_local_files_are_read_with_the_same_rules(tmp_path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(RSS)
    big = tmp_path / "big.xml"
    big.write_bytes(b" " * 2000)
    settings = FetchSettings(max_bytes=1000)
    ok, missing, too_big, folder = fetch_all_sync(
        [
            FetchRequest("ok", str(feed)),
            FetchRequest("missing", str(tmp_path / "nope.xml")),
            FetchRequest("big", str(big)),
            FetchRequest("folder", str(tmp_path)),
        ],
        settings,
    )
    assert ok.status == "ok" and ok.body == RSS and ok.etag
    assert missing.error_kind == "not-found" and "nope.xml" in missing.error
    assert too_big.error_kind == "too-large"
    assert folder.status == "error" and str(tmp_path) in folder.error

    again = fetch_all_sync([FetchRequest("ok", str(feed), etag=ok.etag)], settings)[0]
    assert again.status == "not-modified" and again.body is None
    feed.write_bytes(RSS + b"\n")
    changed = fetch_all_sync([FetchRequest("ok", feed.as_uri(), etag=ok.etag)], settings)[0]
    assert changed.status == "ok" and changed.etag != ok.etag


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(minutes=5), usegmt=True)
    assert parse_retry_after("90", now) == timedelta(seconds=90)
    assert parse_retry_after(later, now) == timedelta(minutes=5)
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now) == (
        timedelta(0)
    )
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_retry_after_date_from_a_server_is_honoured(feed_server: FeedServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    url = feed_server.route("/busy", Reply(status=503, headers={"Retry-After": when}))
    result = fetch_one(url)
    assert result.error_kind == "http-503"
    assert timedelta(hours=1, minutes=59) <= result.retry_after <= timedelta(hours=2)


class TestNextPollDelay:
    interval = timedelta(minutes=15)

    def test_a_healthy_source_waits_its_interval(self) -> None:
        assert next_poll_delay(0, None, self.interval) == self.interval

    def test_failures_back_off_exponentially_with_bounded_jitter(self) -> None:
        rng = random.Random(7)
        for failures in (1, 2, 3, 4):
            base = self.interval * 2 ** (failures - 1)
            delays = [next_poll_delay(failures, None, self.interval, rng) for _ in range(50)]
            assert all(base <= d <= base * 1.5 for d in delays)
            assert len(set(delays)) > 1  # jittered, so failing sources spread out

    def test_backoff_is_capped_so_a_source_is_never_parked_for_good(self) -> None:
        for failures in (10, 100, 10_000):
            assert next_poll_delay(failures, None, self.interval) == timedelta(hours=6)
        # A source polled less often than the cap keeps its own interval as ceiling.
        assert next_poll_delay(50, None, timedelta(days=1)) == timedelta(days=1)

    def test_retry_after_is_honoured_up_to_the_cap(self) -> None:
        assert next_poll_delay(1, timedelta(hours=2), self.interval) == timedelta(hours=2)
        assert next_poll_delay(1, timedelta(days=3), self.interval) == timedelta(hours=6)
        # A short Retry-After does not make the source come back sooner than its backoff.
        assert next_poll_delay(3, timedelta(seconds=5), self.interval) >= self.interval * 4

    def test_negative_failure_count_is_refused(self) -> None:
        with pytest.raises(ValueError):
            next_poll_delay(-1, None, self.interval)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="per_host"):
        FetchSettings(per_host=0)
    with pytest.raises(ValueError, match="deadline"):
        FetchSettings(deadline=0)
