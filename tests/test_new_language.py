"""A language is added with vocabulary files alone: no Python changes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from allywatch.language.loader import SignalFileError, load_signals
from allywatch.resources import builtin_dir
from allywatch.watchers.matcher import Matcher

PACK = builtin_dir("signals")

GERMAN = """
    # German cues: lists of the same name add up with the built-in en.yaml and ru.yaml.
    terms:
      negation: [nicht, kein*, nie]
      denial: [dementier*, bestreit*]
      rumour: [angeblich]
      hedge: [könnte, vielleicht, plant*]
      future: [wird]
      abbreviation: [Hr, Nr]
      clause_break: [aber]
      list_joiner: [und]
    entities:
      Ruritanien: [Ruritanien*]
      Freistadt: [Freistadt*]
"""

GADGETS = """
    id: geraete
    question: Hat Ruritanien Geräte geliefert?
    initial: none
    entities: [Ruritanien, Freistadt]
    terms:
      gadget: [Gerät*]
      buy: [gekauft, Kaufvertrag*]
      delivery: [geliefert, liefert]
    states:
      deal: {when: "entity and gadget and buy"}
      delivered: {when: "near(entity, delivery, 4) and gadget"}
"""


def write(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    folder = tmp_path_factory.mktemp("signals")
    write(folder, "vocab/de.yaml", GERMAN)
    write(folder, "geraete.yaml", GADGETS)
    return Matcher(load_signals([folder], builtin=PACK))


def found(matcher: Matcher, text: str) -> set[tuple[str | None, str, str, bool]]:
    return {(o.entity, o.state, o.polarity, o.hedged) for o in matcher.match(text, "")}


def test_a_plain_report_in_the_new_language(matcher: Matcher) -> None:
    assert found(matcher, "Ruritanien hat die Geräte geliefert") == {
        ("Ruritanien", "delivered", "for", False)
    }


def test_a_negated_report_evidences_nothing(matcher: Matcher) -> None:
    assert found(matcher, "Ruritanien hat keine Geräte geliefert") == set()


@pytest.mark.parametrize(
    "text",
    ["Ruritanien könnte die Geräte geliefert haben", "Ruritanien hat angeblich Geräte geliefert"],
)
def test_a_hedged_report_evidences_only_the_weaker_state(matcher: Matcher, text: str) -> None:
    assert found(matcher, text) == {("Ruritanien", "deal", "for", True)}


def test_a_denial_is_evidence_against(matcher: Matcher) -> None:
    assert found(matcher, "Ruritanien dementiert, Geräte geliefert zu haben") == {
        ("Ruritanien", "delivered", "against", False)
    }


def test_names_listed_with_the_new_languages_joiner_share_the_claim(matcher: Matcher) -> None:
    # Freistadt is nearest to "geliefert"; Ruritanien is listed with it.
    text = "Ruritanien und Freistadt haben Geräte geliefert"
    assert {entity for entity, *_ in found(matcher, text)} == {"Ruritanien", "Freistadt"}


def test_the_new_languages_clause_break_keeps_a_later_hedge_out(matcher: Matcher) -> None:
    assert found(matcher, "Ruritanien hat Geräte geliefert aber vielleicht zu spät") == {
        ("Ruritanien", "delivered", "for", False)
    }


def test_the_new_languages_abbreviations_end_no_sentence(matcher: Matcher) -> None:
    assert matcher.sentences("Hr. Meier kam. Nr. 5 ging") == ["Hr. Meier kam.", "Nr. 5 ging"]


def test_a_signal_cannot_replace_the_article_wide_lists(tmp_path: Path) -> None:
    write(tmp_path, "vocab/de.yaml", GERMAN)
    own_breaks = "      gadget: [Gerät*]\n      clause_break: [und]"
    write(tmp_path, "geraete.yaml", GADGETS.replace("      gadget: [Gerät*]", own_breaks))
    with pytest.raises(SignalFileError) as caught:
        load_signals([tmp_path], builtin=PACK)
    [error] = caught.value.errors
    assert "`clause_break` is read once per article" in error
