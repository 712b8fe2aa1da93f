"""`allywatch backtest`: a dated archive through real signal files, matcher and story grouping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from allywatch.cli import main

SIGNALS = {
    "jets.yaml": """\
id: jets
question: Have the jets been delivered?
initial: none
terms:
  jet: [Su-35]
  delivery: ["deliver*"]
states:
  delivery-reported: {when: "jet and delivery", severity: warning}
  delivered:
    when: "jet and delivery"
    min_sources: 3
    min_stories: 2
    within: 14d
    severity: critical
""",
    "summit.yaml": """\
id: summit
question: Who stays away from the summit?
initial: attending
entities: [Armenia, Kazakhstan]
terms:
  summit: ["summit*"]
  away: ["skip*", "boycott*"]
states:
  absent: {when: "near(entity, away, 6) and summit", expires: 30d, severity: info}
""",
    "summit-away.yaml": """\
id: summit-away
question: How many members stay away?
initial: none-away
aggregate: {of: summit, away: [absent]}
states:
  some-away: {min_count: 1, severity: info}
  all-away: {min_count: 2, severity: warning}
""",
}
JETS = "Russia delivers Su-35 jets to Iran"
LANDED = "The first fighters landed at an air base near Isfahan."


def article(published: str, link: str, title: str, summary: str = "") -> dict[str, str]:
    return {"title": title, "summary": summary, "link": link, "published": published}


ARCHIVE = [
    # Out of order on purpose: the replay goes by publication time.
    article("2024-11-28T10:00:00Z", "https://d.example/s", "Armenia skips summit in Minsk"),
    article("2024-03-01T08:00:00Z", "https://a.example/j1", JETS, LANDED),
    # Syndicated copies: three outlets, one story, which is not yet "delivered" (two stories).
    article("2024-03-01T12:00:00+00:00", "https://b.example/c1", JETS, LANDED),
    article("2024-03-02T12:00:00+00:00", "https://g.example/c2", JETS, LANDED),
    article(
        "2024-03-05T09:30:00Z",
        "https://c.example/j2",
        "More Su-35 fighters delivered to Tehran air base",
        "A second batch.",
    ),
    article("2024-11-28T11:00:00Z", "https://e.example/s", "Kazakhstan boycotts summit in Minsk"),
    article("2025-01-15T00:00:00Z", "https://f.example/w", "Snow expected across the region"),
]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "signals").mkdir()
    for name, text in SIGNALS.items():
        (tmp_path / "signals" / name).write_text(text, encoding="utf-8")
    (tmp_path / "allywatch.yaml").write_text("signals: [signals]\n", encoding="utf-8")
    lines = [json.dumps(item) for item in ARCHIVE]
    lines.insert(3, "")  # blank lines are allowed
    (tmp_path / "archive.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def backtest(workdir: Path, *args: str) -> tuple[int, str]:
    config = workdir / "allywatch.yaml"
    result = CliRunner().invoke(main, ["--config", str(config), "backtest", *args])
    return result.exit_code, result.output


def test_backtest_yields_each_transition_with_its_replay_time_and_evidence(workdir: Path):
    code, output = backtest(workdir, str(workdir / "archive.jsonl"), "--json")
    assert code == 0, output
    found = [(t["signal"], t["entity"], t["from"], t["to"], t["at"]) for t in json.loads(output)]
    assert found == [
        ("jets", None, "none", "delivery-reported", "2024-03-01T08:00:00+00:00"),
        ("jets", None, "delivery-reported", "delivered", "2024-03-05T09:30:00+00:00"),
        ("summit", "Armenia", "attending", "absent", "2024-11-28T10:00:00+00:00"),
        ("summit-away", None, "none-away", "some-away", "2024-11-28T10:00:00+00:00"),
        ("summit", "Kazakhstan", "attending", "absent", "2024-11-28T11:00:00+00:00"),
        ("summit-away", None, "some-away", "all-away", "2024-11-28T11:00:00+00:00"),
        # Thirty days after the last report the absences expire.
        ("summit", "Armenia", "absent", "attending", "2024-12-28T10:00:00+00:00"),
        ("summit-away", None, "all-away", "some-away", "2024-12-28T10:00:00+00:00"),
        ("summit", "Kazakhstan", "absent", "attending", "2024-12-28T11:00:00+00:00"),
        ("summit-away", None, "some-away", "none-away", "2024-12-28T11:00:00+00:00"),
    ]
    delivered = json.loads(output)[1]
    assert delivered["evidence"] == [
        "https://a.example/j1",
        "https://b.example/c1",
        "https://g.example/c2",
        "https://c.example/j2",
    ]


def test_backtest_replays_only_to_the_newest_article_unless_told(workdir: Path):
    archive = workdir / "short.jsonl"
    archive.write_text(json.dumps(ARCHIVE[0]) + "\n", encoding="utf-8")
    code, output = backtest(workdir, str(archive), "--json")
    assert [t["to"] for t in json.loads(output)] == ["absent", "some-away"]
    code, output = backtest(workdir, str(archive), "--json", "--until", "2025-01-01")
    assert [t["to"] for t in json.loads(output)][-2:] == ["attending", "none-away"]


def test_backtest_prints_transitions_with_dates_and_articles(workdir: Path):
    code, output = backtest(workdir, str(workdir / "archive.jsonl"))
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "2024-03-01 08:00  jets: none -> delivery-reported"
    assert lines[1].strip() == f"2024-03-01 a.example: {JETS} <https://a.example/j1>"
    assert "2024-12-28 10:00  summit / Armenia: absent -> attending (expired)" in lines


def test_backtest_compares_with_expected_transitions(workdir: Path):
    expect = workdir / "expect.yaml"
    expect.write_text(
        "- {signal: jets, to: delivered, at: 2024-03-02}\n"
        "- {signal: summit, entity: Kazakhstan, to: absent, at: '2024-11-28T00:00:00Z'}\n"
        "- {signal: summit, entity: Armenia, to: absent, at: 2024-06-01}\n",
        encoding="utf-8",
    )
    code, output = backtest(workdir, str(workdir / "archive.jsonl"), "--expect", str(expect))
    assert code == 3, output  # something missed, something false
    report = output[output.index("expected 3:") :].splitlines()
    assert report[0] == "expected 3: 2 found, 1 missed, 8 false"
    assert report[1].startswith("found: an expected transition happened within --tolerance")
    assert "missed: an expected transition did not happen" in report[1]
    assert "false: a transition happened that nobody expected" in report[1]
    assert (
        "  found   jets -> delivered expected 2024-03-02, at 2024-03-05 (3.4 days late)" in report
    )
    assert "  missed  summit/Armenia -> absent expected 2024-06-01" in report
    assert "  false   summit/Armenia -> absent at 2024-11-28" in report

    code, output = backtest(
        workdir, str(workdir / "archive.jsonl"), "--expect", str(expect), "--json"
    )
    assert code == 3
    data = json.loads(output)
    assert [(f["to"], f["days_late"]) for f in data["found"]] == [
        ("delivered", 3.4),
        ("absent", 0.5),
    ]
    assert data["missed"] == [
        {"signal": "summit", "entity": "Armenia", "to": "absent", "at": "2024-06-01T00:00:00+00:00"}
    ]
    assert len(data["transitions"]) == 10


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"title": "x", "published": ', "archive.jsonl:2: not valid JSON"),
        ('["a list"]', "archive.jsonl:2: expected a JSON object, got list"),
        ('{"title": "x"}', "archive.jsonl:2: missing `published`"),
        ('{"title": "x", "published": "last Tuesday"}', "archive.jsonl:2: `published` must be"),
        (
            '{"summary": "", "published": "2024-01-01"}',
            "archive.jsonl:2: an article needs a `title` or a `summary`",
        ),
    ],
)
def test_a_malformed_line_is_named_by_file_and_line(workdir: Path, line: str, message: str):
    archive = workdir / "archive.jsonl"
    archive.write_text(json.dumps(ARCHIVE[0]) + "\n" + line + "\n", encoding="utf-8")
    code, output = backtest(workdir, str(archive))
    assert code == 1
    assert f"allywatch: {archive.parent}/{message}" in output


def test_line_separators_inside_json_strings_do_not_split_lines(workdir: Path):
    archive = workdir / "archive.jsonl"
    item = {**ARCHIVE[0], "summary": "first line\u2028second line"}
    archive.write_text(json.dumps(item, ensure_ascii=False) + "\r\n", encoding="utf-8")
    code, output = backtest(workdir, str(archive), "--json")
    assert code == 0, output
    assert [t["to"] for t in json.loads(output)] == ["absent", "some-away"]


def test_bad_expectations_are_named(workdir: Path):
    expect = workdir / "expect.json"
    expect.write_text('[{"signal": "jets", "to": "delivered"}]', encoding="utf-8")
    code, output = backtest(workdir, str(workdir / "archive.jsonl"), "--expect", str(expect))
    assert code == 1 and "expect.json:1: `at` must be an ISO-8601 date or time" in output


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (
            "{signal: jet, to: delivered, at: 2024-03-02}",
            "unknown signal 'jet' (signals: jets, summit, summit-away)",
        ),
        (
            "{signal: jets, to: deliverd, at: 2024-03-02}",
            "jets has no state 'deliverd' (states: none, delivery-reported, delivered)",
        ),
        (
            "{signal: summit, entity: Armenai, to: absent, at: 2024-11-28}",
            "summit has no entity 'Armenai' (entities: Armenia, Kazakhstan)",
        ),
        (
            "{signal: summit, to: absent, at: 2024-11-28}",
            "summit needs an entity (one of Armenia, Kazakhstan)",
        ),
        (
            "{signal: jets, entity: Iran, to: delivered, at: 2024-03-02}",
            "jets has no entities, got entity 'Iran'",
        ),
    ],
)
def test_an_expectation_naming_what_the_signals_lack_is_an_error_on_its_line(
    workdir: Path, item: str, message: str
):
    expect = workdir / "expect.yaml"
    expect.write_text(
        f"# what the archive should yield\n- {{signal: jets, to: delivered, at: 2024-03-05}}\n\n"
        f"- {item}\n",
        encoding="utf-8",
    )
    code, output = backtest(workdir, str(workdir / "archive.jsonl"), "--expect", str(expect))
    assert code == 1
    assert f"expect.yaml:4: {message}" in output


def test_backtest_exits_0_when_it_finds_exactly_what_was_expected(workdir: Path):
    found = json.loads(backtest(workdir, str(workdir / "archive.jsonl"), "--json")[1])
    expect = workdir / "expect.json"
    # Entity names in any case; times within the tolerance.
    wanted = [
        {"signal": t["signal"], "entity": (t["entity"] or "").lower() or None, "to": t["to"],
         "at": t["at"][:10]}
        for t in found
    ]  # fmt: skip
    expect.write_text(json.dumps(wanted, indent=1), encoding="utf-8")
    code, output = backtest(workdir, str(workdir / "archive.jsonl"), "--expect", str(expect))
    assert code == 0, output
    assert f"expected {len(found)}: {len(found)} found, 0 missed, 0 false" in output


def test_an_articles_source_weighs_with_its_configured_tier(workdir: Path):
    """Two outlets fall short of "delivered" (three) unless one is an official source."""
    archive = workdir / "two.jsonl"
    items = [
        {**article("2024-03-01T08:00:00Z", "https://mod.example/1", JETS, LANDED),
         "source": "Ministry"},
        {**article("2024-03-02T08:00:00Z", "https://c.example/2",
                   "More Su-35 fighters delivered to Tehran air base", "A second batch."),
         "source": "Wire"},
    ]  # fmt: skip
    archive.write_text("\n".join(json.dumps(i) for i in items) + "\n", encoding="utf-8")

    def states_reached() -> list[str]:
        code, output = backtest(workdir, str(archive), "--json")
        assert code == 0, output
        return [t["to"] for t in json.loads(output)]

    assert states_reached() == ["delivery-reported"]
    (workdir / "allywatch.yaml").write_text(
        "signals: [signals]\nsources:\n"
        "  - {name: Ministry, url: 'https://mod.example/rss', tier: official}\n",
        encoding="utf-8",
    )
    assert states_reached() == ["delivery-reported", "delivered"]
