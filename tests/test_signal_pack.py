"""The built-in signal pack: it loads, its embedded tests pass, its fixed names hold."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import yaml

from allywatch.language.loader import load_signals
from allywatch.language.model import Signal
from allywatch.resources import builtin_dir
from allywatch.watchers.matcher import Matcher
from allywatch.watchers.signal_tests import run_signal_tests


@pytest.fixture(scope="module")
def pack() -> dict[str, Signal]:
    return {s.id: s for s in load_signals([builtin_dir("signals")], builtin=builtin_dir("signals"))}


def test_embedded_tests_pass(pack: dict[str, Signal]) -> None:
    assert run_signal_tests(list(pack.values())) == []


def test_seed_signals_have_their_fixed_ids_states_and_entities(pack: dict[str, Signal]) -> None:
    csto = pack["csto-summit-attendance"]
    assert csto.state_names() == ("attending", "absent", "suspended", "withdrawn")
    assert csto.entities == (
        "Armenia",
        "Belarus",
        "Kazakhstan",
        "Kyrgyzstan",
        "Russia",
        "Tajikistan",
    )
    assert pack["su35-iran"].state_names() == ("none", "deal", "delivery-reported", "delivered")
    assert pack["su35-iran"].entities == ()
    assert pack["power-of-siberia-2"].state_names() == (
        "talks",
        "agreement",
        "construction",
        "operational",
        "shelved",
    )


def test_delivered_needs_corroboration(pack: dict[str, Signal]) -> None:
    su35 = pack["su35-iran"]
    delivered, reported = su35.state("delivered"), su35.state("delivery-reported")
    assert delivered.when != reported.when or delivered.min_sources >= 3


def test_watch_points_are_covered(pack: dict[str, Signal]) -> None:
    expected = {
        "north-korean-troops-russia",
        "iran-drones-russia",
        "russian-nukes-belarus",
        "brics-membership",
        "russian-forces-africa",
        "india-russian-oil",
    }
    assert expected <= set(pack)
    aggregate = pack["csto-members-away"].aggregate
    assert aggregate is not None and aggregate.of == "csto-summit-attendance"
    assert [s.min_count for s in pack["csto-members-away"].states] == [1, 3]


@pytest.mark.parametrize(
    "signal_id",
    [
        "csto-summit-attendance",
        "su35-iran",
        "power-of-siberia-2",
        "north-korean-troops-russia",
        "iran-drones-russia",
        "russian-nukes-belarus",
        "brics-membership",
        "russian-forces-africa",
        "india-russian-oil",
    ],
)
def test_every_signal_is_tested_in_english_and_russian(
    pack: dict[str, Signal], signal_id: str
) -> None:
    tests = pack[signal_id].tests
    cyrillic = [t for t in tests if re.search("[а-яА-Я]", t.title + t.summary)]
    assert cyrillic and len(cyrillic) < len(tests)
    assert any(t.expect == "no-match" for t in tests)
    assert any(t.expect not in ("no-match", pack[signal_id].initial) for t in tests)


def test_keyword_traps_do_not_fire(pack: dict[str, Signal]) -> None:
    matcher = Matcher(list(pack.values()))
    for text in (
        "Russia has NOT delivered Su-35s to Iran",
        "Iran may receive Su-35s next year, or it may not",
        "Russian Su-35 jets intercepted a US drone over Syria",
        "Gas deliveries to China via the Power of Siberia pipeline hit a record",
        "Pashinyan and Putin attended the CSTO summit in Yerevan",
    ):
        hits = [
            o
            for o in matcher.match(text, "")
            if o.polarity == "for" and o.state != pack[o.signal].initial and not o.hedged
        ]
        assert hits == [], text


def test_every_builtin_signal_has_a_short_label(pack: dict[str, Signal]) -> None:
    labels = {s.id: s.label for s in pack.values()}
    assert all(label != sid and 0 < len(label) <= 40 for sid, label in labels.items()), labels
    assert labels["su35-iran"] == "Su-35/Iran"
    assert len(set(labels.values())) == len(labels)


def test_delivery_is_also_reached_by_independent_reports(pack: dict[str, Signal]) -> None:
    delivered = pack["su35-iran"].state("delivered")
    assert delivered.weaker == "delivery-reported"
    assert delivered.corroboration is not None
    assert delivered.corroboration.min_sources == 3
    assert delivered.corroboration.within == timedelta(days=14)


def test_csto_summits_are_a_recurring_event(pack: dict[str, Signal]) -> None:
    csto = pack["csto-summit-attendance"]
    summit = csto.events["summit"]
    assert summit.gap <= timedelta(days=60) and summit.lapses is not None
    assert summit.places is not None
    for city in ("Bishkek", "Минске", "Nur-Sultan", "St Petersburg", "Астане"):
        assert summit.places.pattern.fullmatch(city), city
    assert csto.status_quo is not None and csto.status_quo.event == "summit"
    assert csto.state("absent").event == "summit"
    # Freezing or leaving is not about one summit: it does not lapse with it.
    assert csto.state("suspended").event is None and csto.state("withdrawn").event is None


def test_every_critical_state_needs_two_outlets(pack: dict[str, Signal]) -> None:
    critical = [
        (signal, state)
        for signal in pack.values()
        for state in signal.states
        if state.severity == "critical"
    ]
    assert critical
    for signal, state in critical:
        assert state.min_sources >= 2 or state.corroboration is not None, (signal.id, state.name)


@pytest.mark.parametrize(
    ("signal", "text", "entity"),
    [
        ("csto-summit-attendance", "Tokayev attends CSTO summit in Bishkek", "Kazakhstan"),
        ("csto-summit-attendance", "Токаев прибыл на саммит ОДКБ в Минске", "Kazakhstan"),
        ("power-of-siberia-2", "Power of Siberia 2 talks continue, no deal yet", None),
        ("power-of-siberia-2", "Переговоры по «Силе Сибири 2» продолжаются", None),
    ],
)
def test_the_status_quo_is_evidenced(
    pack: dict[str, Signal], signal: str, text: str, entity: str | None
) -> None:
    found = Matcher([pack[signal]]).match(text, "")
    assert [(o.entity, o.state, o.polarity, o.hedged) for o in found] == [
        (entity, pack[signal].initial, "for", False)
    ]


def test_ukrainian_vocabulary_mirrors_the_russian_cue_lists() -> None:
    vocab = builtin_dir("signals") / "vocab"
    russian = yaml.safe_load((vocab / "ru.yaml").read_text(encoding="utf-8"))["terms"]
    ukrainian = yaml.safe_load((vocab / "uk.yaml").read_text(encoding="utf-8"))["terms"]
    # A list whose every entry is spelt the same in both languages is in ru.yaml alone.
    spelt_the_same = {"trailing_negation"}
    assert set(russian) - spelt_the_same == set(ukrainian)


@pytest.mark.parametrize(
    ("signal", "text", "entity", "state"),
    [
        ("csto-summit-attendance", "Пашинян не поїде на саміт ОДКБ у Мінську", "Armenia", "absent"),
        (
            "csto-summit-attendance",
            "Belarusian President Boycotts Moscow's CSTO Summit",
            "Belarus",
            "absent",
        ),
        (
            "csto-summit-attendance",
            "Armenia freezes ties with Russia-led regional military alliance",
            "Armenia",
            "suspended",
        ),
        ("su35-iran", "Іран купує у Росії винищувачі Су-35", None, "deal"),
        (
            "power-of-siberia-2",
            "Росія і Китай підписали угоду щодо «Сили Сибіру 2»",
            None,
            "agreement",
        ),
    ],
)
def test_ukrainian_and_described_entities_are_read(
    pack: dict[str, Signal], signal: str, text: str, entity: str | None, state: str
) -> None:
    found = Matcher([pack[signal]]).match(text, "")
    assert [(o.entity, o.state, o.polarity) for o in found] == [(entity, state, "for")]
