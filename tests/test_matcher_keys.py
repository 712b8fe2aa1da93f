"""Prefilter keys: the words a term list needs before its expression is run.

The matcher skips a signal, or a term list's expression, when a word every
match needs is missing from the article. That is only right if the keys are
sound: no text the expression matches may lack them. These tests check the
keys read from regular expressions, and check soundness and unchanged results
over every evaluation text the project has.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
from pathlib import Path

import pytest

from allywatch.language.loader import load_signals
from allywatch.language.regex import regex_keys
from allywatch.language.terms import compile_plain
from allywatch.resources import builtin_dir
from allywatch.watchers import matcher as matcher_module
from allywatch.watchers.matcher import Matcher

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"


def groups(source: str) -> list[set[str]] | None:
    keys = regex_keys(source)
    if keys is None:
        return None
    return [{k.word for k in group} for group in keys.groups]


def test_a_word_after_a_word_boundary_is_a_key() -> None:
    assert groups(r"(?<!\w)CSTO\s+leaders") == [{"csto"}, {"leaders"}]
    assert groups(r"\bSummit") == [{"summit"}]


def test_alternatives_each_give_a_key_and_one_of_them_is_required() -> None:
    found = groups(r"(?<!\w)(?:Russia|Moscow|Kremlin)[- ]led\s+bloc")
    assert found is not None
    assert {"russia", "moscow", "kremlin"} in found
    assert {"bloc"} in found


def test_letters_that_may_continue_a_word_are_not_keys() -> None:
    # "ussia" starts no word of "Russia"; a word after an optional part has no known start.
    assert groups(r"ussia") is None
    assert groups(r"(?:\w+\s+)?deal") is None
    assert groups(r"[a-z]+ion") is None


def test_an_alternative_without_a_leading_word_gives_no_key_for_the_group() -> None:
    assert groups(r"(?<!\w)(?:not|[^\W\d_]+n't)") is None
    assert groups(r"(?<!\w)(?:not|never)\s+attend") == [{"not", "never"}, {"attend"}]


def test_a_word_inside_a_repeat_counts_only_if_it_must_occur() -> None:
    # Whether or not "very " occurs, "large" starts a word; "very" is not needed.
    assert groups(r"(?<!\w)(?:very\s+)*large") == [{"large"}]
    assert groups(r"(?:very\s+)*large") is None  # no word start before the first "very"
    assert groups(r"(?<!\w)(?:very\s+)+large") == [{"very"}, {"large"}]


def test_keys_are_folded_and_prefixes() -> None:
    keys = regex_keys(r"(?<!\w)Сил[аы]\s+Сибири")
    assert keys is not None
    assert {(k.word, k.prefix) for g in keys.groups for k in g} == {("сил", True), ("сибири", True)}


def test_a_plain_term_needs_every_word_and_an_apostrophe_may_continue_one() -> None:
    _, keys = compile_plain("Power of Siberia 2")
    assert keys is not None
    assert [g[0].word for g in keys.groups] == ["power", "of", "siberia"]
    assert keys.telling[0].word == "siberia"
    _, keys = compile_plain("don't")
    assert keys is not None
    assert keys.groups[0][0].prefix  # "donʼt" with U+02BC, a letter, is one word


# Every evaluation text with ALLYWATCH_SLOW=1 (about a minute); else a sample of them.
SLOW = os.environ.get("ALLYWATCH_SLOW") == "1"


def _texts() -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    sets = sorted((ROOT / "evaluation").glob("*.jsonl")) if SLOW else []
    for path in [*sets, ROOT / "evaluation" / "outlet-style.jsonl", EVAL / "dev.jsonl"]:
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            for line in lines if SLOW else lines[:300]:
                if line.strip():
                    item = json.loads(line)
                    texts.append((item.get("title", ""), item.get("summary", "")))
    noise = EVAL / "noise2022.jsonl.gz"
    if noise.exists():
        with gzip.open(noise, "rt", encoding="utf-8") as lines:
            for line in itertools.islice(lines, 3000 if SLOW else 200):
                item = json.loads(line)
                texts.append((item.get("title", ""), item.get("summary", "")))
    return texts


@pytest.fixture(scope="module")
def pack():
    return load_signals([builtin_dir("signals")], builtin=builtin_dir("signals"))


@pytest.fixture(scope="module")
def texts(pack) -> list[tuple[str, str]]:
    found = _texts() + [(t.title, t.summary) for s in pack for t in s.tests]
    assert len(found) > 500
    return found


@pytest.mark.slow
def test_no_text_a_term_list_matches_lacks_its_keys(pack, texts) -> None:
    lists = {
        id(t): t
        for s in pack
        for t in [*s.terms.values(), *s.entity_terms.values(), *s.cues.values()]
    }
    assert sum(t.keys is not None for t in lists.values()) > 0.9 * len(lists)
    matched = 0
    for title, summary in texts:
        words = matcher_module._Words(f"{title}\n{summary}")
        for terms in lists.values():
            found = terms.pattern.search(f"{title}\n{summary}")
            if found:
                matched += 1
                assert words.could_match(terms), (terms.name, found.group(), title)
    assert matched > 500


@pytest.mark.slow
def test_skipping_by_keys_changes_no_observation(pack, texts, monkeypatch) -> None:
    fast = Matcher(pack)
    expected = [[o.to_json() for o in fast.match(t, s)] for t, s in texts]
    assert sum(1 for found in expected if found) > 100
    monkeypatch.setattr(matcher_module._Words, "could_match", lambda self, terms: True)
    slow = Matcher(pack)
    assert [[o.to_json() for o in slow.match(t, s)] for t, s in texts] == expected


def test_regex_keys_never_fail_on_an_unreadable_expression() -> None:
    assert regex_keys("(") is None
    assert regex_keys(r"(a)(?(1)b|c)") is None
    assert re.compile(r"(a)(?(1)b|c)")  # a valid expression the reading does not follow


@pytest.mark.parametrize(
    "title",
    [
        "Россия провела военные учения, Путин встретился с премьером Армении",
        "Russia's defence ministry says Kazakhstan and Belarus held military talks",
    ],
)
def test_the_seed_signals_are_ruled_out_by_words_where_none_of_their_subjects_is_named(
    pack, title: str
) -> None:
    """A story naming members and their armies, but not the bloc, the jets or the pipeline,
    is not read for the seed signals: the prefilter keys each of their states by the rarest
    words its condition needs, not by the members' names or a common word such as
    "военный" (a description of the bloc keyed so would send most Russian news to be read)."""
    matcher = Matcher(pack)
    candidates, _ = matcher._prefilter.candidates(matcher_module._Words(title), subjects=False)
    seeds = {"csto-summit-attendance", "su35-iran", "power-of-siberia-2"}
    assert seeds.isdisjoint(s.id for s in candidates)
