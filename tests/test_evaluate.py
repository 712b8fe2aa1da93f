"""Evaluation against a real SQLite database: transitions, alerts, baseline, silences."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_rules import CSTO, DAY, SU35, T0, make_signal, make_state, report

from allywatch.alerts.evaluate import evaluate
from allywatch.alerts.unannounced import unannounced_reason
from allywatch.cli import main
from allywatch.language.model import Aggregate
from allywatch.language.records import MatchedTerm, Observation
from allywatch.store import queries
from allywatch.store.engine import open_engine, reading, writing
from allywatch.store.migrate import upgrade
from allywatch.store.models import Alert, Transition
from allywatch.store.silences import add_silence

_numbers = itertools.count()

AWAY = make_signal(
    "csto-away",
    "none-away",
    (make_state("some-away", min_count=1, severity="info"), make_state("many-away", min_count=2)),
    aggregate=Aggregate("csto", ("absent", "suspended", "withdrawn")),
)


def store_report(
    session, signal: str, entity: str | None, item: Observation, words: tuple[str, ...] = ()
) -> None:
    """Store one article and its one observation (of `signal` and `entity`), as a cycle would."""
    number = next(_numbers)
    article = queries.add_article(
        session,
        uid=f"uid-{number}",
        link=f"{item.link}#{number}",
        title=item.title,
        summary="",
        published_at=item.published,
        first_seen_at=item.published,
        source_name=item.outlet,
        outlet=item.outlet,
        story=item.story,
    )
    terms = tuple(
        MatchedTerm(term="t", text=w, field="title", start=0, end=len(w), sentence=item.title)
        for w in words
    )
    queries.add_observations(
        session, article, [item._replace(signal=signal, entity=entity, evidence=terms)]
    )


@pytest.fixture
def engine(database_url: str):
    engine = open_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_an_alert_names_signal_entity_states_severity_time_and_articles(engine):
    with writing(engine) as session:
        for outlet in ("a.com", "b.com", "c.com"):
            store_report(session, "su35-iran", None, report(2, "delivered", outlet))
        raised = evaluate(session, [SU35], T0 + 10 * DAY)
    assert len(raised) == 1
    alert = raised[0]
    assert (alert.signal, alert.entity, alert.from_state, alert.to_state) == (
        "su35-iran",
        "",
        "none",
        "delivered",
    )
    assert alert.severity == "critical" and alert.at == T0 + 2 * DAY and alert.announced
    assert sorted(e["outlet"] for e in alert.evidence) == ["a.com", "b.com", "c.com"]
    assert all(e["title"] and e["link"].startswith("https://") for e in alert.evidence)
    assert alert.message == "su35-iran: none -> delivered"


def test_each_transition_is_stored_and_alerted_once(engine):
    with writing(engine) as session:
        store_report(session, "csto", "Belarus", report(0, "absent", "a.com"))
        assert len(evaluate(session, [CSTO], T0 + DAY)) == 1
    for later in (T0 + DAY, T0 + 2 * DAY):
        with writing(engine) as session:
            assert evaluate(session, [CSTO], later) == []
    with reading(engine) as session:
        assert queries.count_rows(session, Alert) == queries.count_rows(session, Transition) == 1


def test_a_reversal_raises_an_alert_too(engine):
    with writing(engine) as session:
        store_report(session, "su35-iran", None, report(0, "delivery-reported", "a.com"))
        evaluate(session, [SU35], T0 + DAY)
        denial = report(2, "delivery-reported", "b.com", against=True)
        store_report(session, "su35-iran", None, denial)
        raised = evaluate(session, [SU35], T0 + 3 * DAY)
    assert [(a.from_state, a.to_state, a.at) for a in raised] == [
        ("delivery-reported", "deal", T0 + 2 * DAY)
    ]
    assert raised[0].message == "su35-iran: delivery-reported -> deal (denied)"
    assert [e["polarity"] for e in raised[0].evidence] == ["against"]
    with reading(engine) as session:
        state = queries.signal_state(session, "su35-iran", "")
        assert (state.state, state.since) == ("deal", T0 + 2 * DAY)


def test_the_first_runs_baseline_is_recorded_and_later_news_announced_whatever_its_date(engine):
    first_run = T0 + 30 * DAY
    with writing(engine) as session:
        store_report(session, "csto", "Armenia", report(29, "suspended", "a.com"))
        baseline = evaluate(session, [CSTO], first_run, announce=False, announce_within=7 * DAY)
        # Dated before the first run, but learnt of after it: news.
        store_report(session, "csto", "Belarus", report(28, "absent", "b.com"))
        news = evaluate(session, [CSTO], T0 + 32 * DAY, announce_within=7 * DAY)
    assert [(a.entity, a.to_state, a.announced) for a in baseline] == [
        ("Armenia", "suspended", False)
    ]
    assert [(a.entity, a.to_state, a.announced) for a in news] == [("Belarus", "absent", True)]


def test_a_change_older_than_announce_within_is_recorded_not_announced(engine):
    now = T0 + 30 * DAY
    with writing(engine) as session:
        store_report(session, "csto", "Armenia", report(22, "suspended", "a.com"))
        store_report(session, "csto", "Belarus", report(24, "absent", "b.com"))
        raised = evaluate(session, [CSTO], now, announce_within=7 * DAY)
    assert {(a.entity, a.announced) for a in raised} == {("Armenia", False), ("Belarus", True)}
    old = next(a for a in raised if not a.announced)
    assert unannounced_reason(old, T0, 7 * DAY) == "older than announce_within, not announced"
    assert unannounced_reason(old, now, 7 * DAY) == "recorded as baseline, not announced"


def test_by_default_every_change_is_announced(engine):
    with writing(engine) as session:
        store_report(session, "csto", "Armenia", report(0, "suspended", "a.com"))
        raised = evaluate(session, [CSTO], T0 + 30 * DAY)
    assert [a.announced for a in raised] == [True]


def test_silences_keep_transitions_recorded_but_unannounced(engine):
    now = T0 + 10 * DAY
    with writing(engine) as session:
        add_silence(session, "csto", "Armenia", now + DAY, now)
        add_silence(session, "su35-iran", "", now + DAY, now)
        add_silence(session, "csto", "Belarus", now - DAY, now - 2 * DAY)  # over already
        store_report(session, "csto", "Armenia", report(9, "withdrawn", "a.com"))
        store_report(session, "csto", "Belarus", report(9, "absent", "b.com"))
        store_report(session, "su35-iran", None, report(9, "deal", "c.com"))
        raised = evaluate(session, [CSTO, SU35], now)
    announced = {(a.signal, a.entity): a.announced for a in raised}
    assert announced == {
        ("csto", "Armenia"): False,
        ("csto", "Belarus"): True,
        ("su35-iran", ""): False,
    }


def test_an_aggregate_signal_has_its_own_transitions_and_alerts(engine):
    with writing(engine) as session:
        store_report(session, "csto", "Armenia", report(0, "suspended", "a.com"))
        store_report(session, "csto", "Kazakhstan", report(5, "absent", "b.com"))
        raised = evaluate(session, [CSTO, AWAY], T0 + 6 * DAY)
    aggregate = [
        (a.from_state, a.to_state, a.at, a.severity) for a in raised if a.signal == AWAY.id
    ]
    assert aggregate == [
        ("none-away", "some-away", T0, "info"),
        ("some-away", "many-away", T0 + 5 * DAY, "warning"),
    ]
    with reading(engine) as session:
        assert queries.signal_state(session, AWAY.id, "").state == "many-away"


def test_the_state_table_keeps_where_each_state_stands_for_explain(engine):
    now = T0 + 3 * DAY
    with writing(engine) as session:
        store_report(session, "su35-iran", None, report(1, "delivered", "a.com"))
        store_report(session, "su35-iran", None, report(2, "delivered", "b.com", against=True))
        evaluate(session, [SU35], now)
    with reading(engine) as session:
        row = queries.signal_state(session, "su35-iran", "")
    assert row.detail["at"] == now.isoformat()
    delivered = next(s for s in row.detail["states"] if s["name"] == "delivered")
    assert (delivered["for_outlets"], delivered["against_outlets"]) == (1, 1)
    assert delivered["standing"] is False


FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link>
<description>w</description>
{items}
</channel></rss>
"""
ITEM = """<item><title>{title}</title><link>https://{outlet}/{slug}</link>
<pubDate>{date}</pubDate><description>{title}</description></item>"""


def test_a_first_cycle_over_a_backlog_alerts_nobody_and_later_news_does(
    tmp_path: Path, database_url: str
):
    """Through `allywatch run`: the first cycle reads a feed full of old news."""
    feed = tmp_path / "feed.xml"
    config = tmp_path / "allywatch.yaml"
    config.write_text(
        f"database: '{database_url}'\nsources:\n  - {{name: Wire, path: feed.xml}}\n",
        encoding="utf-8",
    )
    items = [
        ("Armenia has frozen its participation in the CSTO, Pashinyan says", "a.am", "1", 2024),
    ]

    def write_feed() -> None:
        body = "\n".join(
            ITEM.format(
                title=title,
                outlet=outlet,
                slug=slug,
                date=datetime(year, 2, 23, 10, tzinfo=UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
            )
            for title, outlet, slug, year in items
        )
        feed.write_text(FEED.format(items=body), encoding="utf-8")

    write_feed()
    runner = CliRunner()
    first = runner.invoke(main, ["--config", str(config), "run", "--clock", "2025-01-01T00:00:00"])
    assert first.exit_code == 0, first.output
    assert "ALERT" not in first.output
    kyrgyz = "Kyrgyz leader to skip Collective Security Treaty Organization summit"
    items.append((kyrgyz, "b.kg", "2", 2025))
    write_feed()
    second = runner.invoke(main, ["--config", str(config), "run", "--clock", "2025-03-01T00:00:00"])
    assert second.exit_code == 0, second.output
    assert "ALERT" in second.output and "Kyrgyzstan" in second.output
    assert "Armenia" not in second.output
    alerts = runner.invoke(main, ["--config", str(config), "alerts", "--json"])
    listed = json.loads(alerts.output)
    recorded = {(a["entity"], a["to"], a["announced"]) for a in listed}
    assert ("Armenia", "suspended", False) in recorded
    assert ("Kyrgyzstan", "absent", True) in recorded
    kyrgyz_alert = next(a for a in listed if a["entity"] == "Kyrgyzstan" and a["to"] == "absent")
    assert kyrgyz_alert["severity"] and kyrgyz_alert["evidence"][0]["link"] == "https://b.kg/2"
    acked = runner.invoke(main, ["--config", str(config), "ack", str(kyrgyz_alert["id"])])
    assert acked.exit_code == 0 and f"acknowledged #{kyrgyz_alert['id']}" in acked.output
    unacked = runner.invoke(main, ["--config", str(config), "alerts", "--unacked", "--json"])
    assert kyrgyz_alert["id"] not in [a["id"] for a in json.loads(unacked.output)]


def test_an_unchanged_signal_is_still_brought_up_to_its_timers(engine):
    """Evaluations skip signals with nothing new, but not an expiry that falls due."""
    with writing(engine) as session:
        store_report(session, "csto", "Belarus", report(0, "absent", "a.com"))
        evaluate(session, [CSTO], T0 + DAY)
        assert evaluate(session, [CSTO], T0 + 20 * DAY) == []
        expired = evaluate(session, [CSTO], T0 + 40 * DAY)
    assert [(a.to_state, a.at, a.message) for a in expired] == [
        ("attending", T0 + 30 * DAY, "csto / Belarus: absent -> attending (expired)")
    ]


def test_a_changed_signal_definition_is_replayed(engine):
    with writing(engine) as session:
        store_report(session, "su35-iran", None, report(0, "deal", "a.com"))
        evaluate(session, [SU35], T0 + DAY)
        stricter = make_signal(
            SU35.id, "none", (make_state("deal", min_sources=2), *SU35.states[1:])
        )
        revised = evaluate(session, [stricter], T0 + 2 * DAY)
    assert [(a.from_state, a.to_state, a.at) for a in revised] == [("deal", "none", T0 + 2 * DAY)]
