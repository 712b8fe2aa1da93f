"""One cycle after another, from feeds served over real HTTP to stored alerts.

The sample feeds in examples/feeds are served by a local HTTP server that only
shows the items published by the test's clock (tests/newsworld.py), so each
cycle sees the news of its day, as a real poller would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from feedserver import FeedServer, Reply
from newsworld import NewsWorld

from allywatch.cli import main


@pytest.fixture
def newsroom(tmp_path: Path, feed_server: FeedServer, database_url: str) -> tuple[Path, NewsWorld]:
    world = NewsWorld.from_examples(feed_server)
    # The runs lie months apart, so what each finds is up to months old and still news.
    return world.config(tmp_path, database=database_url, announce_within="365d"), world


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def run_at(config: Path, world: NewsWorld, moment: str) -> str:
    world.clock = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    code, output = cli(config, "run", "--clock", moment)
    assert code == 0, output
    return output


def states(config: Path) -> dict[tuple[str, str | None], str]:
    code, output = cli(config, "status", "--json")
    assert code == 0, output
    return {(row["signal"], row["entity"]): row["state"] for row in json.loads(output)}


def test_cycles_over_time_raise_each_change_once(newsroom: tuple[Path, NewsWorld]) -> None:
    config, world = newsroom

    # A fresh database: the first run reads the backlog quietly.
    assert run_at(config, world, "2025-01-15T00:00:00") == ""
    assert states(config)[("power-of-siberia-2", None)] == "talks"

    spring = run_at(config, world, "2025-04-10T00:00:00")
    assert "csto-summit-attendance / Armenia: attending -> suspended" in spring
    assert "su35-iran: none -> deal" in spring

    may = run_at(config, world, "2025-05-25T00:00:00")
    assert "csto-summit-attendance / Kazakhstan: attending -> absent" in may
    assert "Armenia" not in may

    june = run_at(config, world, "2025-06-05T00:00:00")
    assert "su35-iran: deal -> delivery-reported" in june
    assert "su35-iran: delivery-reported -> delivered" in june

    september = run_at(config, world, "2025-09-10T00:00:00")
    assert "power-of-siberia-2: talks -> agreement" in september
    # "may skip" is hedged and "has not delivered" is negated: neither changes a state.
    assert "Kyrgyzstan" not in september
    assert "su35-iran" not in september

    now = states(config)
    assert now[("csto-summit-attendance", "Armenia")] == "suspended"
    assert now[("csto-summit-attendance", "Kazakhstan")] == "absent"
    assert now[("csto-summit-attendance", "Kyrgyzstan")] == "attending"
    assert now[("su35-iran", None)] == "delivered"
    assert now[("power-of-siberia-2", None)] == "agreement"

    code, output = cli(config, "alerts", "--json")
    before = json.loads(output)
    transitions = {(a["signal"], a["entity"], a["to"]) for a in before}
    assert ("su35-iran", None, "delivered") in transitions
    delivered = next(a for a in before if a["to"] == "delivered")
    assert len({e["outlet"] for e in delivered["evidence"]}) >= 2
    assert delivered["at"].startswith("2025-06-0")

    # The same news again, an hour later: nothing new is stored or raised.
    requests = world.requests
    assert run_at(config, world, "2025-09-10T01:30:00") == ""
    assert world.requests > requests
    code, output = cli(config, "alerts", "--json")
    assert json.loads(output) == before


def test_history_lists_transitions_with_their_articles(newsroom: tuple[Path, NewsWorld]) -> None:
    config, world = newsroom
    run_at(config, world, "2025-01-15T00:00:00")
    run_at(config, world, "2025-06-05T00:00:00")
    code, output = cli(config, "history", "su35-iran", "--json")
    assert code == 0, output
    history = json.loads(output)
    assert [t["to"] for t in history][:1] == ["delivered"]
    assert history == sorted(history, key=lambda t: t["at"], reverse=True)
    assert all(t["evidence"] for t in history)
    assert any("gulf-monitor.example.com" in e["link"] for t in history for e in t["evidence"])


def test_a_failing_feed_is_reported_and_the_others_still_count(
    newsroom: tuple[Path, NewsWorld], feed_server: FeedServer
) -> None:
    config, world = newsroom
    broken = feed_server.route("/broken.xml", Reply(status=500, body=b"oops"))
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text + f"  - {{name: broken, url: '{broken}'}}\n",
        encoding="utf-8",
    )
    world.clock = datetime(2025, 6, 5, tzinfo=UTC)
    result = CliRunner().invoke(main, ["--config", str(config), "run", "--clock", "2025-06-05"])
    assert result.exit_code == 3
    assert "source 'broken' failed" in result.output
    code, output = cli(config, "feeds", "--json")
    health = {f["name"]: f for f in json.loads(output)}
    assert health["broken"]["healthy"] is False
    assert health["broken"]["consecutive_failures"] == 1
    assert health["gulf-monitor"]["healthy"] is True
    assert states(config)[("su35-iran", None)] == "delivered"


def test_a_feed_failing_too_long_raises_one_alert_of_its_own(
    newsroom: tuple[Path, NewsWorld], feed_server: FeedServer
) -> None:
    config, world = newsroom
    broken = feed_server.route("/broken.xml", Reply(status=500, body=b"oops"))
    config.write_text(
        config.read_text(encoding="utf-8").replace("poll_interval: 1h\n", "poll_interval: 1h\n"
        "feed_failure_alert_after: 2h\n")
        + f"  - {{name: broken, url: '{broken}'}}\n",
        encoding="utf-8",
    )  # fmt: skip

    def run(moment: str) -> str:
        world.clock = datetime.fromisoformat(moment).replace(tzinfo=UTC)
        result = CliRunner().invoke(main, ["--config", str(config), "run", "--clock", moment])
        assert result.exit_code in (0, 3), result.output
        return result.output

    assert "feed 'broken'" not in run("2025-01-15T00:00:00")
    later = run("2025-01-15T06:00:00")
    assert "ALERT [warning] feed 'broken' failing since 2025-01-15 00:00 UTC" in later
    assert "http-500" in later
    assert "feed 'broken' failing" not in run("2025-01-15T20:00:00")
    code, output = cli(config, "alerts", "--json")
    feed_alerts = [a for a in json.loads(output) if a["kind"] == "feed"]
    assert len(feed_alerts) == 1
    assert feed_alerts[0]["signal"] is None
