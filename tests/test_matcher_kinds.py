"""The matcher reports, per article and entity, the strongest state of each kind it
evidences where the article names the occurrence: an absence from a summit (an event)
beside a freeze of the membership (a standing status)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from allywatch.language.loader import SignalFileError, load_signals
from allywatch.language.model import SignalTest
from allywatch.resources import builtin_dir
from allywatch.watchers.matcher import Matcher
from allywatch.watchers.signal_tests import run_signal_tests

PACK = builtin_dir("signals")
CSTO = "csto-summit-attendance"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_signals([PACK], builtin=PACK))


def states(matcher: Matcher, title: str, summary: str = "", signal: str = CSTO) -> set:
    return {
        (o.entity, o.state)
        for o in matcher.match(title, summary)
        if o.signal == signal and o.polarity == "for"
    }


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        (
            "Pashinyan skips CSTO summit in Dushanbe",
            "Armenia, which froze its participation in the bloc in 2024, sent no delegation.",
        ),
        (
            "Pashinyan stays away from the CSTO summit in Dushanbe",
            "Armenia froze its participation in the Russia-led military alliance last year.",
        ),
        (
            "Саммит ОДКБ в Душанбе прошёл без Пашиняна",
            "Армения заморозила своё участие в организации ещё в 2024 году.",
        ),
        (
            "Пашинян пропустил саммит ОДКБ в Душанбе",
            "Ереван, заморозивший участие в блоке, не прислал делегацию.",
        ),
    ],
)
def test_an_absence_from_a_named_summit_and_a_freeze_are_both_reported(
    matcher: Matcher, title: str, summary: str
) -> None:
    assert states(matcher, title, summary) == {("Armenia", "absent"), ("Armenia", "suspended")}


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        # Staying away from the bloc's meetings in general is the freeze told again.
        ("Yerevan will not attend CSTO meetings while its participation remains frozen", ""),
        (
            "Armenia will not send representatives to CSTO meetings, its participation in"
            " the bloc is frozen, Pashinyan says",
            "",
        ),
        ("Армения заморозила участие в ОДКБ", "Пашинян не поедет на заседания организации."),
        (
            "Армения заморозила участие в ОДКБ",
            "Ереван не будет направлять представителей на заседания организации.",
        ),
    ],
)
def test_staying_away_from_meetings_in_general_beside_a_freeze_is_the_freeze(
    matcher: Matcher, title: str, summary: str
) -> None:
    assert states(matcher, title, summary) == {("Armenia", "suspended")}


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("Pashinyan skips CSTO summit in Dushanbe", "He cited a busy schedule.", "absent"),
        ("Пашинян пропустил саммит ОДКБ в Душанбе", "", "absent"),
        ("Armenia freezes its participation in the CSTO", "", "suspended"),
        ("Армения заморозила участие в ОДКБ", "", "suspended"),
    ],
)
def test_one_state_where_the_article_tells_one(
    matcher: Matcher, title: str, summary: str, expected: str
) -> None:
    assert states(matcher, title, summary) == {("Armenia", expected)}


def test_states_of_one_kind_still_report_the_strongest(matcher: Matcher) -> None:
    text = "Iran confirms delivery of Su-35 jets it bought from Russia"
    assert states(matcher, text, signal="su35-iran") == {(None, "delivered")}


# --------------------------------------------------------------------------- signal tests

BOTH = (
    "Pashinyan did not attend the meeting of the Collective Security Treaty Organization"
    " in Astana, in keeping with Armenia's freeze of its participation."
)


@pytest.mark.parametrize(
    ("expect", "also", "failure"),
    [
        ("suspended", ("absent",), None),
        ("absent", ("suspended",), None),
        ("suspended", (), "expected only suspended, got"),
        ("suspended", ("withdrawn",), "expected withdrawn (for), got"),
    ],
)
def test_a_signal_test_expects_every_state_reported_side_by_side(
    matcher: Matcher, expect: str, also: tuple[str, ...], failure: str | None
) -> None:
    signal = next(s for s in matcher.signals if s.id == CSTO)
    test = SignalTest("Pashinyan skips CSTO summit", BOTH, expect, "Armenia", "for", None, 1)
    failures = run_signal_tests([replace(signal, tests=(replace(test, also=also),))])
    if failure is None:
        assert failures == []
    else:
        assert len(failures) == 1 and failure in failures[0]


@pytest.mark.parametrize(
    "listed", ["[absent]", "[absent, absent]", "[none, absent]", "[absent, no-match]"]
)
def test_a_list_in_expect_names_two_or_more_non_initial_states(tmp_path: Path, listed: str) -> None:
    body = (PACK / f"{CSTO}.yaml").read_text(encoding="utf-8").split("\ntests:\n")[0]
    body += f"\ntests:\n  - text: {BOTH}\n    expect: {listed}\n    entity: Armenia\n"
    (tmp_path / f"{CSTO}.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(SignalFileError, match="a list in `expect` names two or more"):
        load_signals([tmp_path / f"{CSTO}.yaml"], builtin=PACK)


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        # The country named last before the sentence, here in the title.
        (
            "Armenia stays away from the CSTO summit in Astana",
            "The republic, which froze its participation in the bloc, sent no delegation.",
            {("Armenia", "absent"), ("Armenia", "suspended")},
        ),
        # The last mention in the nearest sentence that names any: Armenia, not Russia.
        (
            "Саммит ОДКБ в Москве",
            "Председательство передали России, а саммит прошёл без Армении. Республика,"
            " заморозившая участие в блоке, делегацию не направила.",
            {("Armenia", "absent"), ("Armenia", "suspended")},
        ),
        # In the sentence that names the member: the mention last before it.
        (
            "CSTO leaders met in Bishkek",
            "Tajikistan's president stayed at home; the republic was represented by the"
            " speaker of the upper house.",
            {("Tajikistan", "absent")},
        ),
        # No country named before: "the republic" stands for nobody.
        (
            "The republic, which froze its participation in the CSTO, sent no delegation",
            "",
            set(),
        ),
        # The country named last is one of a list, partners or not: a singular word cannot
        # tell which one it means.
        (
            "Uzbekistan keeps its distance from the CSTO",
            "Tashkent prefers bilateral drills with Moscow and Dushanbe. The republic left the"
            " bloc once before.",
            set(),
        ),
        (
            "The CSTO summit went ahead without Armenia and Belarus",
            "The country, which froze its participation, sent no delegation.",
            {("Armenia", "absent"), ("Belarus", "absent")},
        ),
        # "His country" is the leader's own.
        (
            "The CSTO summit in Astana ended on Thursday",
            "Armenia's prime minister stayed away, his country having frozen its participation"
            " in the alliance.",
            {("Armenia", "absent"), ("Armenia", "suspended")},
        ),
    ],
)
def test_the_republic_is_the_country_named_last(
    matcher: Matcher, title: str, summary: str, expected: set
) -> None:
    assert states(matcher, title, summary) == expected


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        # The relative clause between the member and what it did does not part them.
        (
            "Yerevan brushes off criticism",
            "Armenia, which suspended its involvement in the Collective Security Treaty"
            " Organization in February, did not attend last week's summit in Bishkek.",
            {("Armenia", "absent"), ("Armenia", "suspended")},
        ),
        (
            "Week in review",
            "Kyrgyzstan, whose president had chaired the bloc's Collective Security Council for"
            " a year, skipped the CSTO summit in Minsk.",
            {("Kyrgyzstan", "absent")},
        ),
        (
            "Новости недели",
            "Таджикистан, который председательствовал в организации в прошлом году и готовил"
            " повестку, на заседание Совета коллективной безопасности ОДКБ в Минске не приехал.",
            {("Tajikistan", "absent")},
        ),
        (
            "Новости недели",
            "Таджикистан, председательствовавший в организации в прошлом году, на саммит ОДКБ в"
            " Минске не приехал.",
            {("Tajikistan", "absent")},
        ),
        # A clause-break word inside the clause ("because of") does not end it: the
        # minister who skipped last year's session attended this one.
        (
            "Belarusian minister signs statement",
            "Maxim Ryzhenkov, who skipped last year's session in Almaty because of a trip to"
            " Beijing, attended Friday's meeting of the CSTO foreign ministers in Minsk.",
            {("Belarus", "attending")},
        ),
        # Nearer after the clause, the member listed before is still farther: the leaders
        # who gathered are not the one who sent nobody.
        (
            "CSTO summit opens in Astana",
            "Leaders of Russia, Belarus, Kazakhstan, Kyrgyzstan and Tajikistan gathered in the"
            " Kazakh capital; Armenia, which has frozen its participation in the bloc, did not"
            " send a delegation.",
            {("Armenia", "absent"), ("Armenia", "suspended")},
        ),
        # The clause holds the host, who attends; the one who stays away is named after it,
        # and stays nearer its verb.
        (
            "CSTO summit in Astana",
            "Kazakhstan, whose leader hosted the CSTO summit, said Armenia would not attend.",
            {("Armenia", "absent"), ("Kazakhstan", "attending")},
        ),
    ],
)
def test_a_relative_clause_does_not_part_the_member_from_its_verb(
    matcher: Matcher, title: str, summary: str, expected: set
) -> None:
    assert states(matcher, title, summary) == expected


def test_owners_listed_together_share_the_state(matcher: Matcher) -> None:
    # "Kyrgyzstan's and Tajikistan's presidents": both possessives own the same presidents.
    assert states(
        matcher,
        "The CSTO summit opened in the Kremlin on Thursday",
        "Kyrgyzstan's and Tajikistan's presidents stayed away, sending stand-ins.",
    ) == {("Kyrgyzstan", "absent"), ("Tajikistan", "absent")}


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        # The bloc's full name is one name, as near as its initials would be.
        (
            "No Armenian delegation turned up at the Collective Security Treaty Organization"
            " summit in Kazakhstan's capital on Thursday.",
            {("Armenia", "absent")},
        ),
        (
            "Heads of state signed a plan on Thursday; the seat reserved for Armenia at the"
            " Collective Security Treaty Organization table remained empty.",
            {("Armenia", "absent")},
        ),
    ],
)
def test_a_name_of_several_words_counts_as_one_in_a_distance(
    matcher: Matcher, summary: str, expected: set
) -> None:
    assert states(matcher, "Security bloc meets", summary) == expected


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        # "And is seeking": a predicate of its own, whose hedge leaves the freeze standing.
        (
            "Paris and Yerevan, which has frozen its participation in the Collective Security"
            " Treaty Organization and is seeking new arms suppliers, signed a deal.",
            {("Armenia", "suspended")},
        ),
        # The hedge in the match's own predicate still qualifies it.
        (
            "Yerevan is seeking to freeze its participation in the Collective Security Treaty"
            " Organization.",
            {("Armenia", "attending")},
        ),
    ],
)
def test_a_cue_after_the_match_does_not_cross_a_predicate_of_its_own(
    matcher: Matcher, summary: str, expected: set
) -> None:
    assert states(matcher, "Armenia buys French howitzers", summary) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # Object first, the member as the subject after it, then the negated verb: the
        # exit did not come about.
        ("Мирзоян: процедуру выхода из ОДКБ Армения не запускала", set()),
        ("Процедуру виходу з ОДКБ Вірменія не запускала", set()),
        # The same with the verb not negated: the claim stands.
        ("Мирзоян: процедуру выхода из ОДКБ Армения запустила", {("Armenia", "withdrawn")}),
    ],
)
def test_a_negated_verb_after_the_member_named_after_the_claim_negates_it(
    matcher: Matcher, title: str, expected: set
) -> None:
    assert states(matcher, title) == expected
