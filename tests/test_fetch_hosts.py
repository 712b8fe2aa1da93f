"""Per-host limits: the query-feed services' own, the config's, spacing, and a host's 429.

Every server is real, on a loopback address; a test stands in for an aggregator
by giving 127.0.0.1 a limit of its own, as a config's `fetch.hosts` would.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from allywatch.config import load_config
from allywatch.errors import ConfigError
from allywatch.watchers.fetch import FetchRequest, fetch_all_sync
from allywatch.watchers.fetch_settings import AGGREGATOR_HOSTS, FetchSettings, HostLimit
from tests.feedserver import FeedServer, Reply, Seen

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def test_the_query_feed_services_have_limits_of_their_own() -> None:
    settings = FetchSettings(per_host=4)
    assert settings.limit_for("news.google.com").per_host > 4
    gdelt = settings.limit_for("api.gdeltproject.org")
    assert (gdelt.per_host, gdelt.spacing) == (1, 5)  # GDELT: one request every 5 seconds
    assert settings.limit_for("example.org") == HostLimit(per_host=4, spacing=0)


def test_a_config_adds_hosts_to_the_built_in_ones(tmp_path: Path) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_text("fetch: {hosts: {Feeds.Example.ORG: {per_host: 8, spacing: 0.5}}}\n")
    fetch = load_config(config).fetch
    assert fetch.limit_for("feeds.example.org") == HostLimit(per_host=8, spacing=0.5)
    assert fetch.limit_for("news.google.com") == AGGREGATOR_HOSTS["news.google.com"]
    config.write_text("fetch: {hosts: {example.org: {per_host: 0}}}\n")
    with pytest.raises(ConfigError, match="per_host"):
        load_config(config)


def test_a_host_with_a_limit_of_its_own_is_not_held_to_per_host(feed_server: FeedServer) -> None:
    urls = [feed_server.route(f"/q{n}", Reply(body=RSS, delay=0.4)) for n in range(12)]
    settings = FetchSettings(concurrency=16, per_host=2, hosts={"127.0.0.1": HostLimit(per_host=6)})
    results = fetch_all_sync([FetchRequest(url, url) for url in urls], settings)
    assert {r.status for r in results} == {"ok"}
    assert feed_server.max_in_flight == 6


def test_requests_to_a_spaced_host_start_that_far_apart(feed_server: FeedServer) -> None:
    starts: list[float] = []
    lock = threading.Lock()

    def stamped(seen: Seen) -> Reply:
        with lock:
            starts.append(time.monotonic())
        return Reply(body=RSS)

    urls = [feed_server.route(f"/q{n}", stamped) for n in range(4)]
    settings = FetchSettings(hosts={"127.0.0.1": HostLimit(per_host=4, spacing=0.3)})
    fetch_all_sync([FetchRequest(url, url) for url in urls], settings)
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 4 and min(gaps) >= 0.25


def test_a_rate_limited_aggregator_is_left_alone_for_the_rest_of_the_cycle() -> None:
    with FeedServer("127.0.0.1") as aggregator, FeedServer("127.0.0.2") as other:
        limited = aggregator.route("/q0", Reply(status=429, headers={"Retry-After": "120"}))
        queued = [aggregator.route(f"/q{n}", Reply(body=RSS)) for n in range(1, 4)]
        elsewhere = other.route("/feed", Reply(body=RSS))
        settings = FetchSettings(hosts={"127.0.0.1": HostLimit(per_host=1)})
        requests = [FetchRequest(url, url) for url in [limited, *queued, elsewhere]]
        results = fetch_all_sync(requests, settings)
        assert results[0].error_kind == "http-429"
        for result in results[1:4]:
            assert result.error_kind == "rate-limited"
            assert result.retry_after == timedelta(seconds=120)
            assert "answered HTTP 429" in (result.error or "")
        assert results[4].status == "ok"
        assert not any(aggregator.requests_to(f"/q{n}") for n in range(1, 4))


def test_elsewhere_a_429_concerns_its_one_feed(feed_server: FeedServer) -> None:
    limited = feed_server.route("/q0", Reply(status=429, headers={"Retry-After": "120"}))
    fine = feed_server.route("/q1", Reply(body=RSS))
    results = fetch_all_sync(
        [FetchRequest("a", limited), FetchRequest("b", fine)], FetchSettings(per_host=1)
    )
    assert [r.error_kind for r in results] == ["http-429", None]
