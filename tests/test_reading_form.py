"""The form a text is read in: headline case and look-alike letters of another script."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from allywatch.language.loader import load_signals
from allywatch.resources import builtin_dir
from allywatch.watchers.matcher import Matcher
from allywatch.watchers.reading_form import (
    headline_case,
    one_script,
    without_dateline,
    without_outlet,
)

HEADLINE_WORD = re.compile(r"(?i:to|of|at|by|as|he|will|be|won't|not|without)")


@pytest.mark.parametrize(
    ("title", "read"),
    [
        (
            "Armenia Sends Ambassador To CSTO Summit Instead Of PM",
            "Armenia Sends Ambassador to CSTO Summit Instead of PM",
        ),
        (
            "Rahmon Will Be Represented By Prime Minister At CSTO Summit",
            "Rahmon will be Represented by Prime Minister at CSTO Summit",
        ),
        # AP style: short words already lower-case; "As He" still capitalised.
        (
            "Kazakh President Sends PM to CSTO Summit As He Hosts Xi",
            "Kazakh President Sends PM to CSTO Summit as he Hosts Xi",
        ),
        ("Pashinyan Won't Go To Minsk", "Pashinyan won't Go to Minsk"),
        # A sentence's first word keeps its capital: it starts the sentence.
        (
            "CSTO To Hold Summit Without Armenia? Will Not Happen, Says Peskov",
            "CSTO to Hold Summit without Armenia? Will not Happen, Says Peskov",
        ),
    ],
)
def test_headline_case_reads_its_small_words_lower_case(title: str, read: str) -> None:
    assert headline_case(title, HEADLINE_WORD) == read


@pytest.mark.parametrize(
    "title",
    [
        "Armenia sends ambassador To the summit",  # sentence case: "To" may be a name
        "To Be Gone",  # too short to tell
        "As Armenia skips the summit, Putin hosts Tokayev",  # the first word keeps it
        "Лидеры ОДКБ Соберутся В Минске Без Армении",  # no headline words in the list
    ],
)
def test_other_titles_are_read_as_written(title: str) -> None:
    assert headline_case(title, HEADLINE_WORD) == title


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("Выход Армении из OДКБ", "Выход Армении из ОДКБ"),  # a Latin O
        ("Вiрменiя заморозила участь", "Вірменія заморозила участь"),  # Latin i, in Ukrainian
        ("the CSTО summit", "the CSTO summit"),  # a Cyrillic О
        ("Минск и Minsk", "Минск и Minsk"),  # one script per word: nothing to do
    ],
)
def test_a_stray_letter_of_another_script_is_read_in_the_word_s_script(
    text: str, read: str
) -> None:
    assert one_script(text) == read


@pytest.mark.parametrize(
    ("summary", "rest"),
    [
        ("MINSK, Nov 23 (Reuters) - Leaders met.", "Leaders met."),
        ("YEREVAN, Armenia, Nov. 23 (AP) — Leaders met.", "Leaders met."),
        ("ALMATY (Reuters) - Leaders met.", "Leaders met."),
        ("МОСКВА, 23 ноября. /ТАСС/. Лидеры встретились.", "Лидеры встретились."),
        ("ЕРЕВАН, 23 ноя — РИА Новости. Лидеры встретились.", "Лидеры встретились."),
        ("КИЇВ, 23 листопада. /Укрінформ/. Лідери зустрілися.", "Лідери зустрілися."),
    ],
)
def test_a_dateline_is_read_as_blank(summary: str, rest: str) -> None:
    read = without_dateline(summary)
    assert len(read) == len(summary) and read.strip() == rest


@pytest.mark.parametrize(
    "summary",
    [
        "CSTO - the bloc met in Minsk.",  # an acronym and a dash: no date, no agency
        "NATO, the EU - and Russia.",
        "Минск, 23 ноября: лидеры встретились.",  # the place not in capitals, no agency
    ],
)
def test_other_openings_are_read_as_written(summary: str) -> None:
    assert without_dateline(summary) == summary


OUTLET = re.compile(r"(?i:News|Новости|Sputnik|Times|(?<![\w.])[\w-]+\.(?:am|kz)(?![\w.]))")


@pytest.mark.parametrize(
    ("title", "rest"),
    [
        ("Токаев не поедет в Минск - 22.11.2023, Sputnik Армения", "Токаев не поедет в Минск"),
        ("Токаев не поедет в Минск | Новости Армении", "Токаев не поедет в Минск"),
        ("Tokayev to skip summit - Armenia News", "Tokayev to skip summit"),
        (
            "Minsk - Astana - Tokayev to skip summit - news.am",
            "Minsk - Astana - Tokayev to skip summit",
        ),
    ],
)
def test_an_outlet_closing_a_title_is_read_as_blank(title: str, rest: str) -> None:
    read = without_outlet(title, OUTLET)
    assert len(read) == len(title) and read.rstrip() == rest


@pytest.mark.parametrize(
    "title",
    [
        "Токаев не поедет на саммит ОДКБ — Лукашенко",  # a speaker, not an outlet
        "Armenia skips summit - Iranian media",  # an unnamed source: read as one
        "Live | CSTO summit in Astana",
        "Tokayev to skip summit - the news from Astana is out and about",  # too long
    ],
)
def test_other_last_segments_are_read_as_written(title: str) -> None:
    assert without_outlet(title, OUTLET) == title


@given(st.text(alphabet="AaBCcEeOoPpTXxyАаВСсЕеОоРрТХхуДдЖжGgRrSs -", max_size=40))
def test_reading_forms_keep_every_offset(text: str) -> None:
    assert len(one_script(text)) == len(text)
    assert len(headline_case(text, HEADLINE_WORD)) == len(text)
    assert len(without_dateline(text)) == len(text)
    assert len(without_outlet(text, OUTLET)) == len(text)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    pack = builtin_dir("signals")
    return Matcher(load_signals([pack], builtin=pack))


def _read(matcher: Matcher, title: str, summary: str = "") -> set[tuple]:
    return {(o.signal, o.entity, o.state) for o in matcher.match(title, summary)}


@pytest.mark.parametrize(
    "title",
    [
        "Armenia Sends Ambassador To CSTO Summit Instead Of PM",
        "Kyrgyz Defence Chief Sends Deputy To CSTO Ministers' Meeting",
    ],
)
def test_a_headline_case_title_reads_as_its_sentence_case(matcher: Matcher, title: str) -> None:
    sentence_case = title[0] + title[1:].lower().replace("csto", "CSTO").replace("pm", "PM")
    found = _read(matcher, title)
    assert found == _read(matcher, sentence_case)
    assert found and {state for _, _, state in found} == {"absent"}


@pytest.mark.parametrize(
    ("dateline", "summary"),
    [
        (
            "MINSK, Nov 23 (Reuters) - ",
            "Armenian Prime Minister Nikol Pashinyan skipped the CSTO summit.",
        ),
        ("МИНСК, 23 ноября. /ТАСС/. ", "Премьер Армении Никол Пашинян пропустил саммит ОДКБ."),
    ],
)
def test_a_dateline_city_is_no_actor(matcher: Matcher, dateline: str, summary: str) -> None:
    expected = {("csto-summit-attendance", "Armenia", "absent")}
    assert _read(matcher, "Leaders meet", summary) == expected
    assert _read(matcher, "Leaders meet", dateline + summary) == expected


@pytest.mark.parametrize(
    "title",
    [
        "Таджикистан на СМИД ОДКБ будет представлен замглавы МИД | Новости Армении",
        "Казахстан на заседании министров обороны ОДКБ представит замминистра - Sputnik Армения",
    ],
)
def test_an_outlet_s_country_is_no_actor(matcher: Matcher, title: str) -> None:
    found = _read(matcher, title)
    assert found and {entity for _, entity, _ in found} <= {"Tajikistan", "Kazakhstan"}


def test_evidence_is_quoted_as_written(matcher: Matcher) -> None:
    title = "Выход Армении из OДКБ стал свершившимся фактом"
    (observation,) = [o for o in matcher.match(title, "") if o.signal == "csto-summit-attendance"]
    assert (observation.entity, observation.state) == ("Armenia", "withdrawn")
    quoted = {term.text for term in observation.evidence}
    assert "OДКБ" in quoted  # the Latin O, as the outlet wrote it
    assert all(term.sentence == title for term in observation.evidence)
