"""What is announced: a change is news when allywatch first learns of it, whatever the
article's date, except the first run's baseline and changes older than announce_within.

Cycles run against feeds on 127.0.0.1 (tests/newsworld.py) at chosen moments, a
day or more ahead of the wall clock, so a subscriber added now is there before
any of the news.
"""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from feedserver import FeedServer
from newsworld import NewsWorld, Story, run_at

from allywatch.cli import main

START = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=2)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

DEAL = (
    "Iran finalises deal to buy Su-35 fighter jets from Russia",
    "Tehran and Moscow signed a contract for 24 Sukhoi Su-35 fighters.",
)
FREEZE = (
    "Armenia freezes its participation in the CSTO",
    "Yerevan suspended its participation in the Collective Security Treaty Organization.",
)
PIPELINE = (
    "Russia and China sign Power of Siberia 2 gas pipeline agreement",
    "Gazprom and CNPC signed a binding contract for the Power of Siberia 2 pipeline.",
)


def cli(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


def alerts(config: Path) -> dict[str, dict]:
    """The alerts listed by `alerts --json`, by message."""
    return {a["message"]: a for a in json.loads(cli(config, "alerts", "--json"))}


@pytest.fixture
def late_news(tmp_path: Path, feed_server: FeedServer, database_url: str):
    """The first run sees a Su-35 deal; Armenia's freeze is dated before the first run
    but surfaces in its feed three hours after it."""
    world = NewsWorld.of_stories(
        feed_server,
        [
            Story("gulf", START - DAY, *DEAL),
            Story("eurasia", START - 2 * HOUR, *FREEZE, surfaces=START + 3 * HOUR),
        ],
    )
    outbox = tmp_path / "outbox"
    config = world.config(
        tmp_path,
        database=database_url,
        extra=f"outbox: {outbox}\nsecret: a-test-secret-of-enough-length\n",
    )
    return config, world, outbox


def test_the_first_runs_baseline_is_recorded_unannounced_and_marked(late_news) -> None:
    config, world, _ = late_news
    output = run_at(config, world, START, "-v")
    assert "ALERT" not in output
    assert "1 alert (0 announced)" in output
    assert "1 alert recorded as baseline, not announced" in output
    deal = alerts(config)["su35-iran: none -> deal"]
    assert (deal["announced"], deal["unannounced"]) == (
        False,
        "recorded as baseline, not announced",
    )
    (row,) = cli(config, "alerts").splitlines()[1:]
    assert "su35-iran: none -> deal" in row and "recorded as baseline, not announced" in row
    assert "su35-iran: none -> deal (recorded as baseline, not announced)" in cli(config, "status")


def test_news_dated_before_the_first_run_that_surfaces_after_it_is_announced(late_news) -> None:
    config, world, outbox = late_news
    cli(config, "subscribers", "add", "analyst@example.org", "--cadence", "immediate")
    run_at(config, world, START)
    assert not list(outbox.glob("*.eml"))  # the baseline is nobody's news
    output = run_at(config, world, START + 4 * HOUR)
    assert "ALERT [warning] csto-summit-attendance / Armenia: attending -> suspended" in output
    freeze = alerts(config)["csto-summit-attendance / Armenia: attending -> suspended"]
    assert freeze["announced"] and freeze["unannounced"] is None
    assert freeze["at"] < START.isoformat()  # dated before the first run

    # The digest carries the announced alert only, not the baseline.
    (sent,) = outbox.glob("*.eml")
    message = email.message_from_bytes(sent.read_bytes())
    text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    body = text.get_payload(decode=True).decode()
    assert "suspended" in body and "Armenia" in body
    assert "deal" not in body and "Su-35" not in body


def test_a_source_added_later_announces_its_recent_items_not_its_old_ones(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    world = NewsWorld.of_stories(
        feed_server,
        [
            Story("gulf", START - DAY, *DEAL),
            Story("eurasia", START - 30 * DAY, *FREEZE),  # older than announce_within
            Story("eurasia", START + 8 * DAY, *PIPELINE),  # two days before it is added
        ],
    )
    config = world.config(tmp_path, database=database_url, outlets=["gulf"])
    run_at(config, world, START)
    assert run_at(config, world, START + 5 * DAY) == ""

    world.config(tmp_path, database=database_url)  # eurasia added
    output = run_at(config, world, START + 10 * DAY, "-v")
    # The freeze and the count of members away it made: a month old, recorded quietly.
    assert [line for line in output.splitlines() if line.startswith("ALERT")] == [
        "ALERT [warning] power-of-siberia-2: talks -> agreement"
    ]
    assert "3 alerts (1 announced)" in output
    assert "2 alerts older than announce_within, not announced" in output

    listed = alerts(config)
    freeze = listed["csto-summit-attendance / Armenia: attending -> suspended"]
    assert (freeze["announced"], freeze["unannounced"]) == (
        False,
        "older than announce_within, not announced",
    )
    assert listed["power-of-siberia-2: talks -> agreement"]["announced"]
    assert "suspended  older than announce_within, not announced" in cli(config, "alerts")


def test_with_alert_on_first_run_the_baseline_is_announced(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    # A year old: past announce_within, but the first run announces all it finds.
    world = NewsWorld.of_stories(feed_server, [Story("gulf", START - 365 * DAY, *DEAL)])
    config = world.config(tmp_path, database=database_url, extra="alert_on_first_run: true\n")
    assert "ALERT [info] su35-iran: none -> deal" in run_at(config, world, START)
    assert "not announced" not in cli(config, "alerts")
