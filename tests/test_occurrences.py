"""Signals that follow the world over time: yearly summits over several years, members
skipping and returning, states lapsing after silence, the aggregate counting only the
latest summit, occurrences named by place and date, and source tiers' weights."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_evaluate import store_report

from allywatch.alerts.evaluate import evaluate
from allywatch.alerts.occurrences import Calendar
from allywatch.alerts.rules import replay, replay_aggregate, replay_all, replay_signal
from allywatch.cli import main
from allywatch.language.model import Aggregate, Event, Signal, StateDef, TermList
from allywatch.language.records import Observation
from allywatch.language.terms import compile_plain
from allywatch.store.engine import writing
from allywatch.workspace import Workspace

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MEMBERS = ("Armenia", "Belarus", "Kazakhstan", "Kyrgyzstan")


def term_list(name: str, *terms: str) -> TermList:
    source = "|".join(f"(?:{compile_plain(term)[0]})" for term in terms)
    return TermList(name, terms, source, None)


CITIES = term_list("summit_cities", "Minsk", "Astana", "Bishkek", "Moscow", "Yerevan", "Минск*")


def summit_signal(lapses: timedelta | None = 200 * DAY, **withdrawn: object) -> Signal:
    """csto-summit-attendance as the loader builds it from a file with `events:`."""
    summit = Event("summit", "CSTO summit", gap=45 * DAY, lapses=lapses, places=CITIES)
    states = (
        StateDef("absent", when=None, event="summit"),
        StateDef("suspended", when=None, weaker="attending"),
        StateDef(
            "withdrawn",
            when=None,
            weaker="attending",
            severity="critical",
            **({"min_sources": 2} | withdrawn),  # type: ignore[arg-type]
        ),
    )
    return Signal(
        "csto",
        "Are the CSTO members taking part?",
        "attending",
        MEMBERS,
        states,
        None,
        Path("csto.yaml"),
        events={"summit": summit},
        status_quo=StateDef("attending", when=None, event="summit"),
    )


AWAY = Signal(
    "csto-away",
    "How many members are away from the latest summit?",
    "none-away",
    (),
    (
        StateDef("some-away", when=None, min_count=1),
        StateDef("many-away", when=None, min_count=2),
    ),
    Aggregate("csto", ("absent", "suspended", "withdrawn")),
    Path("csto-away.yaml"),
)
SIGNAL = summit_signal()


def news(
    when: str,
    entity: str,
    state: str,
    title: str,
    outlet: str = "wire.example",
    *,
    tier: str = "other",
) -> Observation:
    published = datetime.fromisoformat(when).replace(tzinfo=UTC)
    return Observation(
        signal="csto",
        entity=entity,
        state=state,
        published=published,
        outlet=outlet,
        story=f"{outlet}/{entity}/{when}",
        link=f"https://{outlet}/{entity}/{state}/{when}",
        title=title,
        tier=tier,
    )


def path(timeline) -> list[tuple[str, str, str, str, str | None]]:
    """(from, to, day, reason, occurrence) of each change."""
    return [
        (
            c.from_state,
            c.to_state,
            c.at.date().isoformat(),
            c.reason,
            c.occurrence.describe() if c.occurrence else None,
        )
        for c in timeline.changes
    ]


def by_entity(timelines) -> dict[str | None, object]:
    return {t.entity: t for t in timelines}


# Three yearly summits: Minsk 2023, Astana 2024, Bishkek 2025. Armenia skips the first
# two and comes back to the third; Kyrgyzstan skips only the last.
YEARS = [
    news("2023-11-22T08:00", "Belarus", "attending", "Lukashenko hosts CSTO leaders in Minsk"),
    news("2023-11-23T09:00", "Armenia", "absent", "Pashinyan skips CSTO summit in Minsk"),
    news("2023-11-23T10:00", "Kazakhstan", "attending", "Tokayev arrives in Minsk for summit"),
    news("2024-11-27T07:00", "Kazakhstan", "attending", "Tokayev welcomes CSTO leaders to Astana"),
    news("2024-11-28T09:00", "Armenia", "absent", "Armenia again stays away, summit in Astana"),
    news("2025-11-26T12:00", "Kyrgyzstan", "attending", "Bishkek readies for the CSTO summit"),
    news("2025-11-27T09:00", "Armenia", "attending", "Pashinyan attends CSTO summit in Bishkek"),
    news("2025-11-27T09:30", "Kyrgyzstan", "absent", "Japarov to miss the summit, Bishkek says"),
]
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_each_summit_is_an_occurrence_named_by_its_place_and_first_report():
    calendar = Calendar.of(SIGNAL, YEARS, NOW)
    series = calendar.series["summit"]
    assert [start.date().isoformat() for start in series.starts] == [
        "2023-11-22",
        "2024-11-27",
        "2025-11-26",
    ]
    named = [series.occurrence(index, NOW).describe() for index in range(3)]
    assert named == [
        "the CSTO summit in Minsk, 2023-11-22",
        "the CSTO summit in Astana, 2024-11-27",
        "the CSTO summit in Bishkek, 2025-11-26",
    ]
    # Known as of a moment: before any report of the third summit, there are two.
    assert (
        len(Calendar.of(SIGNAL, YEARS, datetime(2025, 1, 1, tzinfo=UTC)).series["summit"].starts)
        == 2
    )


def test_a_member_skipping_two_summits_and_returning_to_the_third():
    timelines = by_entity(replay_signal(SIGNAL, YEARS, NOW))
    # Each absence lapses 200 days after its summit's last report (of any member).
    assert path(timelines["Armenia"]) == [
        ("attending", "absent", "2023-11-23", "evidence", "the CSTO summit in Minsk, 2023-11-22"),
        ("absent", "attending", "2024-06-10", "lapsed", None),
        ("attending", "absent", "2024-11-28", "evidence", "the CSTO summit in Astana, 2024-11-27"),
        ("absent", "attending", "2025-06-16", "lapsed", None),
    ]
    # Attending the latest summit: the status quo's occurrence names it.
    armenia = timelines["Armenia"]
    assert armenia.state == "attending"
    assert armenia.occurrence.describe() == "the CSTO summit in Bishkek, 2025-11-26"
    kyrgyzstan = timelines["Kyrgyzstan"]
    assert (kyrgyzstan.state, kyrgyzstan.occurrence.describe()) == (
        "absent",
        "the CSTO summit in Bishkek, 2025-11-26",
    )
    # Belarus was last reported at the first summit; that has long lapsed.
    assert timelines["Belarus"].occurrence is None


def test_a_state_lapses_after_its_occurrences_last_report_of_any_member():
    evidence = [
        news("2025-11-27T09:00", "Armenia", "absent", "Pashinyan skips CSTO summit in Bishkek"),
        # Other members are still reported on the same summit ten days later.
        news("2025-12-07T09:00", "Belarus", "attending", "Lukashenko recalls the Bishkek summit"),
    ]
    later = NOW + 365 * DAY
    armenia = replay(
        SIGNAL, "Armenia", evidence[:1], later, calendar=Calendar.of(SIGNAL, evidence, later)
    )
    lapse = datetime(2025, 12, 7, 9, tzinfo=UTC) + 200 * DAY
    assert [(c.to_state, c.at, c.reason) for c in armenia.changes][-1] == (
        "attending",
        lapse,
        "lapsed",
    )
    # Before then, the state stands and says when it will lapse.
    before = replay(
        SIGNAL,
        "Armenia",
        evidence[:1],
        lapse - HOUR,
        calendar=Calendar.of(SIGNAL, evidence, lapse - HOUR),
    )
    absent = next(s for s in before.status if s.name == "absent")
    assert (before.state, absent.lapses_at) == ("absent", lapse)
    # Without lapses, it stays until newer evidence says otherwise.
    lasting = summit_signal(lapses=None)
    assert replay(lasting, "Armenia", evidence[:1], NOW + 999 * DAY).state == "absent"


def test_attending_the_next_summit_ends_an_absence_that_has_not_lapsed():
    signal = summit_signal(lapses=500 * DAY)
    evidence = [
        news("2024-11-28T09:00", "Armenia", "absent", "Armenia stays away, summit in Astana"),
        news(
            "2025-11-27T09:00", "Armenia", "attending", "Pashinyan attends CSTO summit in Bishkek"
        ),
    ]
    assert path(replay(signal, "Armenia", evidence, NOW)) == [
        ("attending", "absent", "2024-11-28", "evidence", "the CSTO summit in Astana, 2024-11-28"),
        (
            "absent",
            "attending",
            "2025-11-27",
            "superseded",
            "the CSTO summit in Bishkek, 2025-11-27",
        ),
    ]


def test_durable_states_do_not_lapse():
    evidence = [
        news("2023-11-23T09:00", "Armenia", "absent", "Pashinyan skips CSTO summit in Minsk"),
        news("2024-02-23T09:00", "Armenia", "suspended", "Armenia freezes its CSTO participation"),
    ]
    assert replay(SIGNAL, "Armenia", evidence, NOW).state == "suspended"


def test_a_state_of_an_event_weighs_only_its_latest_occurrences_reports():
    signal = Signal(
        **{
            **SIGNAL.__dict__,
            "states": (StateDef("absent", when=None, event="summit", min_sources=2),),
        }
    )
    evidence = [
        news(
            "2024-11-28T09:00", "Armenia", "absent", "Armenia skips the Astana summit", "a.example"
        ),
        news(
            "2025-11-27T09:00", "Armenia", "absent", "Armenia skips the Bishkek summit", "b.example"
        ),
    ]
    # Two outlets, but one on each summit: neither absence is corroborated.
    assert replay(signal, "Armenia", evidence, NOW).changes == ()
    second = news("2025-11-27T11:00", "Armenia", "absent", "Pashinyan not in Bishkek", "c.example")
    assert path(replay(signal, "Armenia", [*evidence, second], NOW)) == [
        ("attending", "absent", "2025-11-27", "evidence", "the CSTO summit in Bishkek, 2025-11-27"),
    ]


def test_the_aggregate_counts_only_members_away_from_the_latest_summit():
    signal = summit_signal(lapses=500 * DAY)  # absences outlive a year: only the count moves on
    evidence = [
        news("2024-11-28T09:00", "Armenia", "absent", "Armenia skips CSTO summit in Astana"),
        news("2024-11-28T10:00", "Belarus", "absent", "Lukashenko not in Astana"),
        # The next summit begins: last year's absences no longer count.
        news("2025-11-26T12:00", "Kazakhstan", "attending", "Tokayev flies to Bishkek summit"),
        news("2025-11-27T09:00", "Kyrgyzstan", "absent", "Japarov misses Bishkek summit"),
    ]
    timelines = replay_all([signal, AWAY], lambda signal_id: evidence, NOW)
    away = timelines["csto-away"][0]
    assert path(away) == [
        (
            "none-away",
            "some-away",
            "2024-11-28",
            "count",
            "the CSTO summit in Astana, 2024-11-28",
        ),
        (
            "some-away",
            "many-away",
            "2024-11-28",
            "count",
            "the CSTO summit in Astana, 2024-11-28",
        ),
        (
            "many-away",
            "none-away",
            "2025-11-26",
            "count",
            "the CSTO summit in Bishkek, 2025-11-26",
        ),
        (
            "none-away",
            "some-away",
            "2025-11-27",
            "count",
            "the CSTO summit in Bishkek, 2025-11-26",
        ),
    ]
    # The change the new summit brought cites the report that opened it.
    assert [e.title for e in away.changes[2].evidence] == ["Tokayev flies to Bishkek summit"]
    assert away.occurrence.describe() == "the CSTO summit in Bishkek, 2025-11-26"
    # Armenia and Belarus are still absent (from Astana): the members say so.
    members = by_entity(timelines["csto"])
    assert members["Armenia"].state == members["Belarus"].state == "absent"


def test_a_member_absent_from_two_summits_in_a_row_counts_for_the_latest():
    signal = summit_signal(lapses=500 * DAY)
    evidence = [
        news("2024-11-28T09:00", "Armenia", "absent", "Armenia skips CSTO summit in Astana"),
        news("2025-11-27T09:00", "Kazakhstan", "attending", "Tokayev in Bishkek"),
        news("2025-11-27T10:00", "Armenia", "absent", "Armenia skips Bishkek summit too"),
    ]
    members = replay_signal(signal, evidence, NOW)
    armenia = by_entity(members)["Armenia"]
    # No change to record (absent, then absent), but the state moved to the new summit.
    assert [c.to_state for c in armenia.changes] == ["absent"]
    assert [(c.reason, c.occurrence.describe()) for c in armenia.renewals] == [
        ("renewed", "the CSTO summit in Bishkek, 2025-11-27")
    ]
    calendar = Calendar.of(signal, evidence, NOW)
    away = replay_aggregate(AWAY, members, calendar)
    assert [(c.to_state, c.at.isoformat()) for c in away.changes] == [
        ("some-away", "2024-11-28T09:00:00+00:00"),
        ("none-away", "2025-11-27T09:00:00+00:00"),
        ("some-away", "2025-11-27T10:00:00+00:00"),
    ]


def test_the_place_is_the_one_most_titles_name_first_seen_breaking_ties():
    first = news("2025-11-27T08:00", "Belarus", "attending", "Lukashenko flies from Minsk")
    second = news("2025-11-27T09:00", "Armenia", "absent", "Pashinyan skips summit in Bishkek")
    third = news("2025-11-27T10:00", "Kazakhstan", "attending", "Tokayev lands in Bishkek")
    series = Calendar.of(SIGNAL, [first, second, third], NOW).series["summit"]
    at = [item.published for item in (first, second, third)]
    # One each: the first seen leads; then Bishkek has two.
    assert [series.occurrence(0, moment).place for moment in at] == ["Minsk", "Minsk", "Bishkek"]
    # A wildcard term is shown as the title spells it; no place named, none shown.
    russian = news("2025-11-27T08:00", "Belarus", "attending", "Лидеры ОДКБ собрались в Минске")
    assert Calendar.of(SIGNAL, [russian], NOW).series["summit"].occurrence(0, NOW).place == "Минске"
    quiet = news("2025-11-27T08:00", "Belarus", "attending", "Leaders gather for the summit")
    occurrence = Calendar.of(SIGNAL, [quiet], NOW).series["summit"].occurrence(0, NOW)
    assert occurrence.describe() == "the CSTO summit, 2025-11-27"


def test_one_official_source_corroborates_a_critical_state_one_other_source_does_not():
    one_other = [
        news("2026-01-10T09:00", "Armenia", "withdrawn", "Armenia leaves the CSTO", "blog.example")
    ]
    timeline = replay(SIGNAL, "Armenia", one_other, NOW)
    assert timeline.state == "attending"
    withdrawn = next(s for s in timeline.status if s.name == "withdrawn")
    assert (withdrawn.standing, withdrawn.for_outlets) == (False, 1)

    official = [
        news(
            "2026-01-10T09:00",
            "Armenia",
            "withdrawn",
            "Armenia formally leaves the CSTO",
            "mfa.example",
            tier="official",
        )
    ]
    assert [(c.to_state, c.reason) for c in replay(SIGNAL, "Armenia", official, NOW).changes] == [
        ("withdrawn", "evidence")
    ]
    # Stories count once whatever the tier; the weights are the caller's to choose.
    assert replay(SIGNAL, "Armenia", official, NOW, weights={"official": 1}).state == "attending"
    two = summit_signal(min_stories=2)
    assert replay(two, "Armenia", official, NOW).state == "attending"


def test_an_outlet_weighs_as_its_highest_tier_seen():
    reports = [
        news("2026-01-10T09:00", "Armenia", "withdrawn", "Armenia leaves the CSTO", "gov.example"),
        news(
            "2026-01-11T09:00",
            "Armenia",
            "withdrawn",
            "Armenia's exit is official",
            "gov.example",
            tier="official",
        ),
    ]
    changes = replay(SIGNAL, "Armenia", reports, NOW).changes
    assert [(c.to_state, c.at.date().isoformat()) for c in changes] == [("withdrawn", "2026-01-11")]


def test_cycle_by_cycle_replays_equal_one_replay_with_events():
    full = {t.entity: t for t in replay_signal(SIGNAL, YEARS, NOW)}
    for item in YEARS:
        cut = item.published
        early = replay_signal(SIGNAL, [e for e in YEARS if e.published <= cut], cut)
        for timeline in early:
            assert timeline.changes == tuple(
                c for c in full[timeline.entity].changes if c.at <= cut
            )


SIGNAL_FILES = {
    "summit.yaml": """\
id: summit
question: Who stays away from the summit?
initial: attending
entities: [Armenia, Kazakhstan]
events:
  summit:
    label: CSTO summit
    gap: 45d
    lapses: 200d
    places: ["@cities"]
terms:
  cities: [Minsk, Bishkek, Astana]
  summit: ["summit*"]
  away: ["skip*"]
  go: ["attend*"]
  leave: ["leave*"]
states:
  attending:
    when: "near(entity, go, 6) and summit"
    event: summit
  absent: {when: "near(entity, away, 6) and summit", event: summit, severity: info}
  withdrawn: {when: "near(entity, leave, 4)", severity: critical, weaker: attending}
""",
    "summit-away.yaml": """\
id: summit-away
question: How many members stay away from the latest summit?
initial: none-away
aggregate: {of: summit, away: [absent, withdrawn]}
states:
  some-away: {min_count: 1, severity: info}
""",
}


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    own = tmp_path / "signals"
    own.mkdir()
    for name, text in SIGNAL_FILES.items():
        (own / name).write_text(text, encoding="utf-8")
    path = tmp_path / "allywatch.yaml"
    path.write_text(f"database: '{database_url}'\nsignals: [signals]\n", encoding="utf-8")
    return path


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def record(config: Path, items: list[Observation], now: datetime) -> None:
    """Store the reports and evaluate, as a cycle would."""
    workspace = Workspace.open(config)
    with writing(workspace.engine) as session:
        for item in items:
            store_report(session, "summit", item.entity, item)
        evaluate(session, workspace.signals, now)


def test_status_and_explain_name_the_occurrence_of_a_state(config: Path):
    record(
        config,
        [
            news("2024-11-28T09:00", "Armenia", "absent", "Armenia skips summit in Astana"),
            news("2025-11-27T08:00", "Kazakhstan", "attending", "Tokayev attends Bishkek summit"),
            news("2025-11-27T09:00", "Armenia", "absent", "Pashinyan skips summit in Bishkek"),
        ],
        datetime(2025, 12, 1, tzinfo=UTC),
    )
    code, output = cli(config, "status", "--json", "--signal", "summit")
    assert code == 0, output
    rows = {row["entity"]: row for row in json.loads(output)}
    assert rows["Armenia"]["state"] == "absent"
    expected = {"event": "summit", "label": "CSTO summit", "place": "Bishkek", "date": "2025-11-27"}
    assert rows["Armenia"]["occurrence"].items() >= expected.items()
    assert rows["Kazakhstan"]["occurrence"]["date"] == "2025-11-27"

    code, output = cli(config, "status", "--tz", "UTC")
    lines = output.splitlines()
    assert lines[0].split() == [
        "SIGNAL",
        "ENTITY",
        "STATE",
        "SINCE",
        "(UTC)",
        "OCCURRENCE",
        "LAST",
        "EVIDENCE",
    ]
    armenia = next(line for line in lines if line.startswith("summit ") and "Armenia" in line)
    assert "CSTO summit in Bishkek, 2025-11-27" in armenia
    away = next(line for line in lines if line.startswith("summit-away"))
    assert "some-away" in away and "CSTO summit in Bishkek, 2025-11-27" in away

    code, output = cli(config, "explain", "summit", "Armenia")
    assert code == 0, output
    lines = output.splitlines()
    # Absent from Astana lapsed in June; absent again from Bishkek.
    assert lines[0] == (
        "summit / Armenia: absent from the CSTO summit in Bishkek, 2025-11-27,"
        " since 2025-11-27 09:00 UTC"
    )
    assert (
        "  - absent: lapses on 2026-06-15 09:00 UTC unless its occurrence is reported again"
        in lines
    )
    # Only this summit's reports are listed behind the state.
    assert not any("Astana" in line for line in lines if line.startswith("    2024"))
    code, output = cli(config, "explain", "summit", "Kazakhstan")
    assert output.splitlines()[0] == (
        "summit / Kazakhstan: attending at the CSTO summit in Bishkek, 2025-11-27"
    )
    code, output = cli(config, "explain", "summit-away")
    lines = output.splitlines()
    assert lines[0].startswith(
        "summit-away: some-away counting the CSTO summit in Bishkek, 2025-11-27, since"
    )
    assert "  Armenia: absent (the CSTO summit in Bishkek, 2025-11-27)" in lines


def test_explain_shows_a_member_away_from_an_earlier_summit_as_not_counted(config: Path):
    record(
        config,
        [
            news("2024-11-28T09:00", "Armenia", "absent", "Armenia skips summit in Astana"),
            news("2025-03-01T08:00", "Kazakhstan", "attending", "Tokayev attends Minsk summit"),
        ],
        datetime(2025, 3, 2, tzinfo=UTC),
    )
    code, output = cli(config, "explain", "summit-away", "--json")
    data = json.loads(output)
    assert data["state"] == "none-away"
    armenia = next(m for m in data["members"] if m["entity"] == "Armenia")
    assert (armenia["state"], armenia["counted"], armenia["occurrence"]["place"]) == (
        "absent",
        False,
        "Astana",
    )
    code, output = cli(config, "explain", "summit-away")
    assert (
        "  Armenia: absent (the CSTO summit in Astana, 2024-11-28); not counted,"
        " a newer one has begun"
    ) in output.splitlines()


def test_explain_shows_a_critical_state_one_outlet_reports_as_unconfirmed(config: Path):
    one = news("2026-01-10T09:00", "Armenia", "withdrawn", "Armenia leaves the bloc")
    record(config, [one], datetime(2026, 1, 11, tzinfo=UTC))
    code, output = cli(config, "explain", "summit", "Armenia")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "summit / Armenia: attending"
    assert any(
        line.startswith("withdrawn (unconfirmed: 1 of 2 outlets; needs 2 outlets and")
        for line in lines
    )
    code, output = cli(config, "explain", "summit", "Armenia", "--json")
    withdrawn = next(s for s in json.loads(output)["states"] if s["name"] == "withdrawn")
    assert withdrawn["unconfirmed"] == {"outlets": 1, "needs": 2}
    code, output = cli(config, "alerts", "--json")
    assert json.loads(output) == []


def test_history_names_the_occurrence_each_change_belongs_to(config: Path):
    record(
        config,
        [
            news("2024-11-28T09:00", "Armenia", "absent", "Armenia skips summit in Astana"),
            news("2025-11-27T09:00", "Armenia", "absent", "Pashinyan skips summit in Bishkek"),
        ],
        datetime(2025, 12, 1, tzinfo=UTC),
    )
    code, output = cli(config, "history", "summit", "Armenia", "--json")
    assert code == 0, output
    changes = [(t["to"], (t["occurrence"] or {}).get("place")) for t in json.loads(output)]
    # Newest first: absent from Bishkek, back after Astana lapsed, absent from Astana.
    assert changes == [("absent", "Bishkek"), ("attending", None), ("absent", "Astana")]
    code, output = cli(config, "history", "summit", "Armenia", "--tz", "UTC")
    assert "attending -> absent — CSTO summit in Bishkek, 2025-11-27" in output.splitlines()[0]
