"""`allywatch run` as an operator drives it: polling now, one source by name, what
`-v` says when nothing is due, a changed interval, and exit statuses a cron job can
trust when feeds or digests fail (feeds that cannot be reached: a name under .invalid,
which never resolves, and a closed port on 127.0.0.1)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from digestkit import add_alert, subscribe_at, workspace
from feedserver import FeedServer, Reply

from allywatch.cli import main

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>Trade fair opens</title><link>https://news.example.com/1</link>"
    b"<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item></channel></rss>"
)
T0 = "2025-01-07T00:00:00"
T0_PLUS_1M = "2025-01-07T00:01:00"


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], env=env)


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(
    folder: Path, sources: dict[str, str], extra: str = "", interval: str = "30m"
) -> Path:
    config = folder / "allywatch.yaml"
    listed = "".join(f"  - {{name: {name}, url: '{url}'}}\n" for name, url in sources.items())
    listed = listed or "  []\n"
    config.write_text(
        f"database: sqlite:///watch.db\npoll_interval: {interval}\n{extra}sources:\n{listed}",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def two_feeds(tmp_path: Path, feed_server: FeedServer) -> Path:
    urls = {name: feed_server.route(f"/{name}.xml", Reply(body=RSS)) for name in ("alpha", "beta")}
    return write_config(tmp_path, urls)


def test_run_now_polls_every_source_and_v_says_what_is_due_next(
    two_feeds: Path, feed_server: FeedServer
) -> None:
    assert run(two_feeds, "run", "--clock", T0).exit_code == 0
    quiet = run(two_feeds, "run", "-v", "--clock", T0_PLUS_1M)
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout.startswith("polled 0 sources,")
    assert "no source was due; next: 'alpha' at 2025-01-07 00:30 UTC (in 29m)" in quiet.stdout
    assert "`allywatch run --now`" in quiet.stdout
    assert len(feed_server.requests_to("/alpha.xml")) == 1

    now = run(two_feeds, "run", "-v", "--now", "--clock", T0_PLUS_1M)
    assert now.exit_code == 0, now.output
    assert now.stdout.startswith("polled 2 sources,")
    assert len(feed_server.requests_to("/alpha.xml")) == 2
    assert len(feed_server.requests_to("/beta.xml")) == 2


def test_run_source_polls_that_source_only(two_feeds: Path, feed_server: FeedServer) -> None:
    assert run(two_feeds, "run", "--clock", T0).exit_code == 0
    result = run(two_feeds, "run", "-v", "--source", "beta", "--clock", T0_PLUS_1M)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("polled 1 source,")
    assert len(feed_server.requests_to("/alpha.xml")) == 1
    assert len(feed_server.requests_to("/beta.xml")) == 2


def test_an_unknown_source_name_is_an_error(two_feeds: Path) -> None:
    result = run(two_feeds, "run", "--source", "gamma")
    assert result.exit_code == 1
    assert "no source named 'gamma' (configured: alpha, beta)" in result.stderr


def test_a_changed_interval_reschedules_the_source(two_feeds: Path) -> None:
    assert run(two_feeds, "run", "--clock", T0).exit_code == 0
    two_feeds.write_text(two_feeds.read_text().replace("poll_interval: 30m", "poll_interval: 5m"))
    sooner = run(two_feeds, "run", "-v", "--clock", "2025-01-07T00:06:00")
    assert sooner.stdout.startswith("polled 2 sources,"), sooner.output
    two_feeds.write_text(two_feeds.read_text().replace("poll_interval: 5m", "poll_interval: 2h"))
    later = run(two_feeds, "run", "-v", "--clock", "2025-01-07T01:00:00")
    assert "polled 0 sources," in later.stdout, later.output
    assert "next: 'alpha' at 2025-01-07 02:06 UTC" in later.stdout


def test_offline_feeds_fail_as_one_line_naming_each_host(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {f"feed{n}": f"http://feed{n}.offline.invalid/rss" for n in range(3)},
        extra="feed_failure_alert_after: 1h\n",
        interval="6h",
    )
    first = run(config, "run", "-v", "--clock", T0)
    assert first.exit_code == 3
    assert "polled 3 sources (3 failed)," in first.stdout
    lines = first.stderr.splitlines()
    assert len(lines) == 2, first.stderr
    assert lines[0].startswith("3 sources failed: ")
    assert lines[0].endswith(": is this machine offline?")
    assert lines[1] == (
        "  'feed0' (feed0.offline.invalid), 'feed1' (feed1.offline.invalid),"
        " 'feed2' (feed2.offline.invalid)"
    )
    # Within feed_failure_alert_after a run that polls nothing has nothing to say...
    assert run(config, "run", "--clock", T0_PLUS_1M).exit_code == 0
    # ...past it, every run fails until the feeds come back, whatever it polled.
    later = run(config, "run", "-v", "--clock", "2025-01-07T01:00:30")
    assert later.exit_code == 3, later.output
    assert "polled 0 sources," in later.stdout
    assert "failing since 2025-01-07 00:00 UTC" in later.stderr


def test_a_refused_connection_names_its_host(tmp_path: Path, feed_server: FeedServer) -> None:
    good = feed_server.route("/good.xml", Reply(body=RSS))
    config = write_config(tmp_path, {"good": good, "down": f"http://127.0.0.1:{closed_port()}/"})
    result = run(config, "run", "--clock", T0)
    assert result.exit_code == 3
    assert result.stderr.startswith("source 'down' failed (127.0.0.1): connect: ")
    assert "offline" not in result.stderr  # one feed down of two is not a machine offline


def test_a_failed_digest_fails_the_run_until_it_is_sent(tmp_path: Path) -> None:
    config = write_config(tmp_path, {})
    config.write_text(
        config.read_text()
        + f"secret: s3cret\nsmtp: {{host: 127.0.0.1, port: {closed_port()}, timeout: 5}}\n"
    )
    ws = workspace(config)
    subscribe_at(ws, "ann@example.org", datetime(2025, 1, 6, tzinfo=UTC), cadence="immediate")
    add_alert(ws, created_at=datetime(2025, 1, 6, 12, tzinfo=UTC))
    failed = run(config, "run", "--clock", T0)
    assert failed.exit_code == 3
    assert "digest for ann@example.org failed" in failed.stderr
    digests = next(line for line in run(config, "status").stdout.splitlines() if "digests" in line)
    assert digests.endswith(", 1 failing")
    waiting = run(config, "run", "--clock", T0_PLUS_1M)  # the retry is 5 minutes off
    assert waiting.exit_code == 3
    assert "1 digest(s) failing, waiting for a retry" in waiting.stderr
