"""The review queue end to end: a cycle over local feeds keeps near-misses, `review` lists
them, `review label` records verdicts, `review export` writes them as tests that
`signals test` runs; and the loader's checks of `subject:` and of labels files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from allywatch.cli import main
from allywatch.language.loader import SignalFileError, load_signals
from allywatch.resources import builtin_dir
from allywatch.watchers.matcher import Matcher

JETS = """\
id: jets
question: Has Russia delivered Su-35 fighters to Iran?
initial: none
subject: jet and iran
terms:
  jet: [Su-35*]
  iran: [Iran*]
  delivery: [delivered, arriv*]
states:
  delivered:
    when: jet and iran and delivery
    min_sources: 2
tests:
  - text: Su-35 jets arrived in Iran
    expect: delivered
"""

SUMMIT = """\
id: summit
question: Who skips the CSTO summit?
initial: attending
entities: [Armenia, Kazakhstan]
subject: article(csto) and entity
terms:
  csto: [CSTO]
  skip: [skip*]
states:
  absent:
    when: entity and skip and article(csto)
"""

DAY0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# (day, title): the first, third and fourth are near-misses; the second evidences a state.
ITEMS = [
    (1, "Russia has not delivered any Su-35 to Iran, officials say"),
    (2, "First Su-35 jets delivered to Iran"),
    (3, "Iran shows a Su-35 mock-up at the Kish air show"),
    (4, "Armenia may skip the CSTO summit"),
    (5, "Rain expected in Tehran this weekend"),
]


def rss(items: list[tuple[int, str]]) -> str:
    body = "".join(
        f"<item><title>{title}</title><link>https://news.example.org/{day}</link>"
        f"<pubDate>{(DAY0 + timedelta(days=day)):%a, %d %b %Y %H:%M:%S +0000}</pubDate></item>"
        for day, title in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    signals = tmp_path / "signals"
    signals.mkdir()
    (signals / "jets.yaml").write_text(JETS, encoding="utf-8")
    (signals / "summit.yaml").write_text(SUMMIT, encoding="utf-8")
    (tmp_path / "feed.xml").write_text(rss(ITEMS), encoding="utf-8")
    path = tmp_path / "allywatch.yaml"
    path.write_text(
        f"database: '{database_url}'\nsignals: [signals]\n"
        "sources:\n  - {name: Local, path: feed.xml}\n",
        encoding="utf-8",
    )
    return path


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def queue(config: Path, *args: str) -> dict:
    code, output = cli(config, "review", *args, "--json")
    assert code == 0, output
    return json.loads(output)


def test_a_cycle_keeps_near_misses_and_review_lists_them_newest_first(config: Path) -> None:
    code, output = cli(config, "run")
    assert code == 0, output

    found = queue(config)["near_misses"]
    assert [item["title"] for item in found] == [ITEMS[3][1], ITEMS[2][1], ITEMS[0][1]]
    assert [(item["signal"], item["entity"]) for item in found] == [
        ("summit", "Armenia"),
        ("jets", None),
        ("jets", None),
    ]
    negated = {(w["term"], w["text"]) for w in found[2]["words"]}
    assert negated == {("jet", "Su-35"), ("iran", "Iran"), ("delivery", "delivered")}

    assert [item["title"] for item in queue(config, "jets")["near_misses"]] == [
        ITEMS[2][1],
        ITEMS[0][1],
    ]
    code, output = cli(config, "review", "jets")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].startswith("Near-misses, newest first (2)")
    assert lines[1].startswith(f"#{found[1]['id']}  2026-03-04  jets  ")
    assert lines[7] == "  words: delivery=delivered, jet=Su-35, iran=Iran"

    code, output = cli(config, "run")  # the feed again: nothing is kept twice
    assert len(queue(config)["near_misses"]) == 3


def test_review_lists_states_short_of_their_outlets(config: Path) -> None:
    cli(config, "run")
    [short] = queue(config)["near_threshold"]
    assert (short["signal"], short["state"], short["outlets"], short["needs"]) == (
        "jets",
        "delivered",
        1,
        2,
    )
    [report] = short["reports"]
    assert report["title"] == ITEMS[1][1]
    code, output = cli(config, "review")
    assert "Near a threshold (reported, short of the outlets needed);" in output
    assert "jets: delivered, 1 of 2 outlets" in output
    assert f"  #{report['id']} 2026-03-03 " in output
    # Listed again, the report keeps its item; it is not a near-miss.
    assert queue(config)["near_threshold"][0]["reports"][0]["id"] == report["id"]
    assert report["id"] not in [item["id"] for item in queue(config)["near_misses"]]


def test_a_report_near_a_threshold_is_labelled_and_exported_like_a_near_miss(
    config: Path,
) -> None:
    cli(config, "run")
    [short] = queue(config)["near_threshold"]
    [report] = short["reports"]

    code, output = cli(config, "review", "label", str(report["id"]), "delivered")
    assert code == 0, output
    code, output = cli(config, "review", "export", "jets")
    assert code == 0 and "1 test(s) added" in output, output
    labels = (config.parent / "signals" / "jets.labels.yaml").read_text(encoding="utf-8")
    assert ITEMS[1][1] in labels and "expect: delivered" in labels
    code, output = cli(config, "signals", "test")
    assert code == 0 and "2 passed, 0 failed" in output, output
    # Labelled, it stays on record; the state is still short, so it is still listed.
    assert queue(config)["near_threshold"][0]["reports"][0]["id"] == report["id"]


def test_a_report_whose_state_reached_its_outlets_leaves_the_queue(
    config: Path, tmp_path: Path
) -> None:
    cli(config, "run")
    [report] = queue(config)["near_threshold"][0]["reports"]
    second = tmp_path / "second.xml"
    second.write_text(
        rss([(6, "Su-35 fighters arrived in Iran, a second outlet confirms")]).replace(
            "news.example.org", "wire.example.net"
        ),
        encoding="utf-8",
    )
    config.write_text(
        config.read_text(encoding="utf-8") + "  - {name: Wire, path: second.xml}\n",
        encoding="utf-8",
    )
    code, output = cli(config, "run")
    assert code == 0, output

    assert queue(config)["near_threshold"] == []
    code, output = cli(config, "review", "label", str(report["id"]), "none")
    assert code == 1 and f"no review item #{report['id']}" in output


def test_the_report_page_lists_a_signals_open_near_misses(config: Path, tmp_path: Path) -> None:
    cli(config, "run")
    code, output = cli(config, "report", "--out", str(tmp_path / "site"))
    assert code == 0, output
    page = (tmp_path / "site" / "signals" / "jets.html").read_text(encoding="utf-8")
    section = page.split("<h2>To review</h2>", 1)[1].split("</section>", 1)[0]
    assert section.index("Kish air show") < section.index("Russia has not delivered")
    assert "matched: delivered, Su-35, Iran" in section
    assert "Armenia may skip" not in section


def test_label_records_a_verdict_and_refuses_unknown_items_and_states(config: Path) -> None:
    cli(config, "run")
    first, *rest = queue(config)["near_misses"]

    code, output = cli(config, "review", "label", str(first["id"]), "absent")
    assert code == 0, output
    assert [item["id"] for item in queue(config)["near_misses"]] == [i["id"] for i in rest]

    code, output = cli(config, "review", "label", "999", "none")
    assert code == 1 and "no review item #999" in output
    code, output = cli(config, "review", "label", "x1", "none")
    assert code == 1 and "no review item #x1" in output
    code, output = cli(config, "review", "label", str(rest[0]["id"]), "landed")
    assert code == 1
    assert "jets has no state 'landed' (states: none, delivered; or none)" in output


def test_exported_verdicts_are_tests_that_signals_test_runs(config: Path) -> None:
    cli(config, "run")
    by_title = {item["title"]: item["id"] for item in queue(config)["near_misses"]}
    labels = config.parent / "signals" / "jets.labels.yaml"

    # A verdict the matcher already agrees with: a test guarding it from then on.
    cli(config, "review", "label", str(by_title[ITEMS[0][1]]), "none")
    code, output = cli(config, "review", "export")
    assert code == 0, output
    assert f"{labels}: 1 test(s) added" in output
    assert "expect: no-match" in labels.read_text(encoding="utf-8")
    code, output = cli(config, "signals", "test")
    assert code == 0, output
    assert "2 passed, 0 failed" in output

    # A verdict the matcher misses: the test fails, naming the labels file and line.
    cli(config, "review", "label", str(by_title[ITEMS[2][1]]), "delivered")
    code, output = cli(config, "review", "export", "jets")
    assert code == 0, output
    code, output = cli(config, "signals", "test")
    assert code == 1
    failure = next(line for line in output.splitlines() if line.startswith("FAIL"))
    assert failure.startswith(f"FAIL {labels}:")
    assert "Kish air show" in failure and "expected delivered" in failure

    # The signal file named alone brings its labels file too; nothing is exported twice.
    code, output = cli(config, "signals", "test", str(config.parent / "signals" / "jets.yaml"))
    assert code == 1 and "FAIL" in output
    code, output = cli(config, "review", "export")
    assert code == 0 and "no new verdicts to export" in output
    assert labels.read_text(encoding="utf-8").count("expect:") == 2


def test_export_to_another_file_needs_a_signal(config: Path, tmp_path: Path) -> None:
    cli(config, "run")
    item = queue(config, "jets")["near_misses"][0]
    cli(config, "review", "label", str(item["id"]), "none")
    code, output = cli(config, "review", "export", "--to", str(tmp_path / "out.yaml"))
    assert code == 2 and "name the SIGNAL" in output
    code, output = cli(config, "review", "export", "jets", "--to", str(tmp_path / "out.yaml"))
    assert code == 0, output
    assert "signal: jets" in (tmp_path / "out.yaml").read_text(encoding="utf-8")


def test_the_matcher_reads_near_misses_but_not_evidence_of_the_status_quo(tmp_path: Path) -> None:
    status_quo = "states:\n  attending:\n    when: entity and attend and article(csto)\n"
    (tmp_path / "summit.yaml").write_text(
        SUMMIT.replace("states:\n", status_quo).replace(
            "skip: [skip*]", "skip: [skip*]\n  attend: [attend*]"
        ),
        encoding="utf-8",
    )
    matcher = Matcher(load_signals([tmp_path], builtin=builtin_dir("signals")))
    assert matcher.read("Tokayev attends the CSTO summit", "").near_misses == []
    planned = matcher.read("Tokayev will attend the CSTO summit", "")  # hedged: no evidence
    assert [(o.state, o.hedged) for o in planned.observations] == [("attending", True)]
    assert [miss.entity for miss in planned.near_misses] == ["Kazakhstan"]
    assert matcher.read("Kazakhstan hosts the CSTO summit", "").near_misses[0].entity == (
        "Kazakhstan"
    )
    assert matcher.match("Kazakhstan hosts the CSTO summit", "") == []


def load_errors(folder: Path) -> list[str]:
    with pytest.raises(SignalFileError) as caught:
        load_signals([folder], builtin=builtin_dir("signals"))
    return caught.value.errors


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("jet and plane", "`subject`: unknown term list 'plane'"),
        ("jet and (iran", "`subject`: "),
        ("jet and entity", "`subject`: `entity` used but the signal lists no entities"),
        ("[jet]", '`subject` must be a condition such as "article(csto) and entity"'),
    ],
)
def test_the_loader_refuses_a_bad_subject_with_file_and_line(
    tmp_path: Path, subject: str, message: str
) -> None:
    (tmp_path / "jets.yaml").write_text(
        JETS.replace("subject: jet and iran", f"subject: {subject}"), encoding="utf-8"
    )
    errors = load_errors(tmp_path)
    assert any(e.startswith(f"{tmp_path / 'jets.yaml'}:4: {message}") for e in errors), errors


def test_the_loader_checks_labels_files(tmp_path: Path) -> None:
    (tmp_path / "jets.yaml").write_text(JETS, encoding="utf-8")
    labels = tmp_path / "jets.labels.yaml"
    labels.write_text("signal: planes\ntests:\n  - text: x\n    expect: landed\n", encoding="utf-8")
    errors = load_errors(tmp_path)
    assert f"{labels}:1: `signal` must be 'jets', the id in jets.yaml, got 'planes'" in errors
    assert any(e.startswith(f"{labels}:3: test 1: `expect` must be one of") for e in errors)

    labels.rename(tmp_path / "orphan.labels.yaml")
    assert load_errors(tmp_path) == [
        f"{tmp_path / 'orphan.labels.yaml'}:1: a labels file needs its signal file beside it"
    ]


def test_the_seed_signals_name_their_subjects() -> None:
    pack = {s.id: s for s in load_signals([builtin_dir("signals")], builtin=builtin_dir("signals"))}
    for name in ("csto-summit-attendance", "su35-iran", "power-of-siberia-2"):
        assert pack[name].subject is not None, name


def test_export_leaves_a_labels_file_alone_when_tests_cannot_be_appended(config: Path) -> None:
    cli(config, "run")
    item = queue(config, "jets")["near_misses"][0]
    cli(config, "review", "label", str(item["id"]), "none")
    labels = config.parent / "signals" / "jets.labels.yaml"
    before = "tests:\n  - text: Su-35 jets arrived in Iran\n    expect: delivered\nsignal: jets\n"
    labels.write_text(before, encoding="utf-8")

    code, output = cli(config, "review", "export")
    assert code == 1
    assert "its `tests:` list does not end the file" in output
    assert labels.read_text(encoding="utf-8") == before
    assert [p.name for p in labels.parent.iterdir() if p.name.startswith(".")] == []
