"""Recurring events and the status quo in signal files: what the loader accepts and
rejects, and what the matcher reports of the initial state."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from allywatch.language.loader import SignalFileError, load_signals
from allywatch.language.model import Signal
from allywatch.resources import builtin_dir
from allywatch.watchers.matcher import Matcher
from allywatch.watchers.signal_tests import run_signal_tests

PACK = builtin_dir("signals")  # its vocabulary is always loaded

# Line numbers in the tests below count from `id:` as line 1.
CLUB = """
id: club-attendance
question: Do the members attend the club's summits?
initial: attending
entities: {Avalon: [Avalon*, Arthur], Camelot: [Camelot*, Lancelot]}
events:
  summit:
    label: Round Table summit
    gap: 45d
    lapses: 200d
    places: ["@cities", Tintagel]
terms:
  cities: [Caerleon, Winchester]
  club: [Round Table]
  meeting: [summit*, meeting*]
  go: [attend*, arriv*, took part]
  away: [skip*, stay* away]
  leave: [leaves, quits]
states:
  attending:
    when: before(entity, go, 4) and near(go, meeting, 6) and article(club)
    event: summit
  absent:
    when: near(entity, away, 8) and meeting and article(club)
    future: true
    event: summit
  withdrawn:
    when: before(entity, leave, 3) and club
    severity: critical
"""


def write(folder: Path, body: str, name: str = "club.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


def load(folder: Path, body: str = CLUB) -> Signal:
    [signal] = load_signals([write(folder, body)], builtin=PACK)
    return signal


def errors_of(folder: Path, body: str) -> tuple[Path, list[str]]:
    path = write(folder, body)
    with pytest.raises(SignalFileError) as caught:
        load_signals([path], builtin=PACK)
    return path, caught.value.errors


def reports(signal: Signal, text: str) -> set[tuple[str | None, str, str, bool]]:
    return {(o.entity, o.state, o.polarity, o.hedged) for o in Matcher([signal]).match(text, "")}


# --------------------------------------------------------------------------- loading


def test_events_and_the_status_quo_are_loaded(tmp_path: Path) -> None:
    signal = load(tmp_path)
    summit = signal.events["summit"]
    assert (summit.label, summit.gap, summit.lapses) == (
        "Round Table summit",
        timedelta(days=45),
        timedelta(days=200),
    )
    assert summit.places is not None
    assert summit.places.pattern.findall("held in Winchester, then Tintagel") == [
        "Winchester",
        "Tintagel",
    ]
    assert signal.status_quo is not None
    assert (signal.status_quo.name, signal.status_quo.event) == ("attending", "summit")
    assert "attending" in signal.conditions
    assert signal.state_names() == ("attending", "absent", "withdrawn")
    assert signal.state("absent").event == "summit"
    assert signal.state("absent").weaker == "attending"
    assert signal.state("withdrawn").event is None


def test_an_event_needs_only_a_gap(tmp_path: Path) -> None:
    body = CLUB.replace(
        """    label: Round Table summit
    gap: 45d
    lapses: 200d
    places: ["@cities", Tintagel]
""",
        "    gap: 30d\n",
    )
    summit = load(tmp_path, body).events["summit"]
    assert (summit.label, summit.gap, summit.lapses, summit.places) == (
        "summit",
        timedelta(days=30),
        None,
        None,
    )


def test_the_initial_state_may_have_no_entry(tmp_path: Path) -> None:
    body = CLUB.replace(
        """  attending:
    when: before(entity, go, 4) and near(go, meeting, 6) and article(club)
    event: summit
""",
        "",
    )
    signal = load(tmp_path, body)
    assert signal.status_quo is None
    assert "attending" not in signal.conditions


def test_a_critical_state_needs_two_outlets_unless_the_file_says(tmp_path: Path) -> None:
    assert load(tmp_path).state("withdrawn").min_sources == 2
    one = CLUB.replace("    severity: critical\n", "    severity: critical\n    min_sources: 1\n")
    assert load(tmp_path, one).state("withdrawn").min_sources == 1
    warning = CLUB.replace("severity: critical", "severity: warning")
    assert load(tmp_path, warning).state("withdrawn").min_sources == 1


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("    gap: 45d\n", "", 6, "event 'summit': missing `gap`"),
        ("gap: 45d", "gap: soon", 8, "event 'summit': `gap`: expected a duration"),
        ("gap: 45d", "gap: 0d", 8, "event 'summit': `gap` must be longer than nothing"),
        ("lapses: 200d", "lapses: often", 9, "event 'summit': `lapses`: expected a duration"),
        ('places: ["@cities", Tintagel]', "places: Camelot", 10,
         "event 'summit': `places`: expected a non-empty list of terms"),
        ('places: ["@cities", Tintagel]', 'places: ["@towns"]', 10,
         "@towns: no term list or vocabulary entity named 'towns'"),
        ('places: ["@cities", Tintagel]', 'places: ["@cities"]\n    one_occurrence: summit', 11,
         "event 'summit': `one_occurrence`: expected a non-empty list of terms"),
        ("    lapses: 200d\n", "    lapses: 200d\n    every: 1y\n", 10,
         "event 'summit': unknown key 'every'"),
        ("label: Round Table summit", "label: [a, b]", 7, "event 'summit': `label` must be"),
        ("  summit:\n    label", "  Summit:\n    label", 6, "bad event name 'Summit'"),
        ("events:\n  summit:", "events: summit\nold:", 5, "`events` must map event names"),
        ("    event: summit\n  absent", "    event: parade\n  absent", 21,
         "state 'attending' (the initial state): `event` must name one of the signal's"
         " `events` (summit),"
         " got 'parade'"),
        ("    future: true\n    event: summit", "    future: true\n    event: parade", 25,
         "state 'absent': `event` must name one of the signal's `events`"),
        ("    event: summit\n  absent", "    event: summit\n    min_sources: 2\n  absent", 22,
         "state 'attending' (the initial state): 'min_sources' cannot be set here"),
        ("    event: summit\n  absent", "    event: summit\n    hedged: true\n  absent", 22,
         "state 'attending' (the initial state): 'hedged' cannot be set here"),
        ("    when: before(entity, go, 4) and near(go, meeting, 6) and article(club)\n", "", 19,
         "state 'attending' (the initial state): missing `when`"),
        ("near(go, meeting, 6) and article(club)", "near(go, gathering, 6) and article(club)",
         20, "state 'attending': unknown term list 'gathering'"),
        ("  attending:\n    when", "  attending: yes\n  other:\n    when", 19,
         "state 'attending' (the initial state): expected a mapping"),
    ],
)  # fmt: skip
def test_every_mistake_is_an_error_on_its_line(
    tmp_path: Path, old: str, new: str, line: int, message: str
) -> None:
    assert old in CLUB
    path, errors = errors_of(tmp_path, CLUB.replace(old, new, 1))
    assert any(e.startswith(f"{path}:{line}: {message}") for e in errors), errors


def test_an_aggregate_has_no_events_nor_status_quo(tmp_path: Path) -> None:
    write(tmp_path, CLUB)
    body = """
        id: club-away
        question: How many members are away?
        initial: all-present
        aggregate: {of: club-attendance, away: [absent]}
        events:
          summit: {gap: 45d}
        states:
          all-present: {when: club}
          some-away: {min_count: 1}
    """
    path = write(tmp_path, body, "away.yaml")
    with pytest.raises(SignalFileError) as caught:
        load_signals([tmp_path], builtin=PACK)
    errors = caught.value.errors
    assert f"{path}:5: an aggregate signal has no `events`" in errors
    assert any(e.startswith(f"{path}:8: state 'all-present' (the initial state):") for e in errors)


# --------------------------------------------------------------------------- matching


def test_taking_part_is_an_observation_of_the_status_quo(tmp_path: Path) -> None:
    signal = load(tmp_path)
    assert reports(signal, "Arthur attends the Round Table summit in Caerleon") == {
        ("Avalon", "attending", "for", False)
    }


def test_a_plan_to_take_part_is_a_hedged_report_of_the_status_quo(tmp_path: Path) -> None:
    signal = load(tmp_path)
    assert reports(signal, "Arthur may attend the Round Table summit") == {
        ("Avalon", "attending", "for", True)
    }


def test_not_taking_part_is_no_evidence_of_it(tmp_path: Path) -> None:
    signal = load(tmp_path)
    assert reports(signal, "Arthur did not attend the Round Table summit") == set()


def test_the_stronger_state_wins_for_one_entity_and_not_for_another(tmp_path: Path) -> None:
    signal = load(tmp_path)
    text = "Arthur attended the Round Table summit last year, but skips this one"
    assert reports(signal, text) == {("Avalon", "absent", "for", False)}
    both = "Lancelot arrived for the Round Table summit; Arthur skips the meeting"
    assert reports(signal, both) == {
        ("Camelot", "attending", "for", False),
        ("Avalon", "absent", "for", False),
    }


def test_one_occurrence_named_in_the_singular_stands_beside_a_standing_state(
    tmp_path: Path,
) -> None:
    """An absence counts beside an exit where the article names its occurrence: by a
    place, or, with `one_occurrence`, by the meeting in the singular in the absence's
    own clause; the meetings in general are the exit told again."""
    single = "The Round Table meets. Arthur skips the meeting, and Avalon quits the Round Table"
    plural = "The Round Table meets. Arthur skips the meetings, and Avalon quits the Round Table"
    exit_only = {("Avalon", "withdrawn", "for", False)}
    with_absence = exit_only | {("Avalon", "absent", "for", False)}
    signal = load(tmp_path)
    assert reports(signal, single) == exit_only
    assert reports(signal, single + " in Tintagel") == with_absence
    one = CLUB.replace(
        '    places: ["@cities", Tintagel]\n',
        '    places: ["@cities", Tintagel]\n    one_occurrence: [meeting, summit]\n',
    )
    signal = load(tmp_path, one)
    assert signal.events["summit"].one_occurrence is not None
    assert reports(signal, single) == with_absence
    assert reports(signal, plural) == exit_only


def test_a_denial_of_taking_part_is_evidence_against_the_status_quo(tmp_path: Path) -> None:
    signal = load(tmp_path)
    text = "Avalon denies Arthur attended the Round Table summit"
    assert ("Avalon", "attending", "against", False) in reports(signal, text)


# --------------------------------------------------------------------------- signal tests


@pytest.mark.parametrize(
    ("text", "expect", "extra", "failure"),
    [
        ("Arthur attends the Round Table summit", "attending", "", None),
        ("Arthur skips the Round Table summit", "attending", "",
         "expected attending (for), got absent/Avalon (for)"),
        ("Arthur may attend the Round Table summit", "attending", "",
         "expected hedged=False, got attending/Avalon (for, hedged)"),
        ("Arthur may attend the Round Table summit", "attending", "hedged: true", None),
        ("Arthur may attend the Round Table summit", "no-match", "", None),
        ("Arthur attends the Round Table summit", "no-match", "",
         "expected no match, got attending/Avalon (for)"),
        ("Arthur skips the Round Table summit", "no-match", "",
         "expected no match, got absent/Avalon (for)"),
    ],
)  # fmt: skip
def test_signal_tests_can_expect_the_status_quo(
    tmp_path: Path, text: str, expect: str, extra: str, failure: str | None
) -> None:
    test = f"tests:\n  - text: {text}\n    expect: {expect}\n"
    if extra:
        test += f"    {extra}\n"
    signal = load(tmp_path, CLUB + test)
    failures = run_signal_tests([signal])
    if failure is None:
        assert failures == []
    else:
        [found] = failures
        assert found.endswith(failure), found
