"""The signal language: terms, conditions, vocabularies, and validation errors."""

from __future__ import annotations

import re
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from allywatch.language.condition import ConditionError, anchor_clauses, parse_condition
from allywatch.language.loader import SignalFileError, load_signals
from allywatch.language.model import Corroboration
from allywatch.language.terms import TermError, compile_plain, compile_regex
from allywatch.language.yaml_lines import PurePythonLoader, YamlFileError, load_yaml
from allywatch.resources import builtin_dir
from allywatch.watchers.signal_tests import run_signal_tests

PACK = builtin_dir("signals")  # its vocabulary is always loaded


def term_matches(term: str, text: str) -> list[str]:
    source, _ = compile_plain(term)
    return [m.group() for m in re.finditer(source, text, re.IGNORECASE)]


def write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


def errors_of(paths: list[Path]) -> list[str]:
    with pytest.raises(SignalFileError) as caught:
        load_signals(paths, builtin=PACK)
    return caught.value.errors


GOOD = """
    id: widget-deal
    question: Has Acme bought widgets?
    initial: none
    terms:
      widget: [widget*]
      buy: [buy*, bought]
    states:
      bought: {when: "widget and buy", min_sources: 2, within: 14d, severity: critical}
    tests:
      - text: Acme bought widgets
        expect: bought
"""


# --------------------------------------------------------------------------- terms


@pytest.mark.parametrize("text", ["Su-35", "Su 35", "Su35", "SU-35", "su – 35", "Su‑35"])
def test_term_matches_hyphen_space_and_seam_variants(text: str) -> None:
    assert term_matches("Su-35", f"the {text} jets") == [text]


def test_term_respects_word_boundaries() -> None:
    assert term_matches("Iran", "Iranian jets, Iran's jets") == ["Iran"]
    assert term_matches("Su-35", "an Su-350 or Su-35S") == []
    assert term_matches("Su-35*", "an Su-35S") == ["Su-35S"]


def test_star_ends_a_word_only() -> None:
    assert term_matches("deliver*", "delivered, deliveries, redeliver") == [
        "delivered",
        "deliveries",
    ]
    with pytest.raises(TermError, match="may only end a word"):
        compile_plain("de*liver")


def test_phrase_allows_any_spacing_or_hyphen() -> None:
    assert term_matches("handed over", "handed  over / handed-over / handedover") == [
        "handed  over",
        "handed-over",
    ]


def test_cyrillic_is_case_insensitive_and_yo_matches_ye() -> None:
    assert term_matches("Иран*", "ИРАНУ поставили") == ["ИРАНУ"]
    assert term_matches("ещё", "еще") == ["еще"]
    assert term_matches("Казахстан*", "в Казахстане") == ["Казахстане"]


def test_typographic_apostrophe_matches() -> None:
    assert term_matches("won't attend", "He won’t attend") == ["won’t attend"]


# --------------------------------------------------------------------------- conditions


def test_condition_precedence_and_functions() -> None:
    node = parse_condition("a and not b or near(entity, c, 3) and article(d)")
    assert type(node).__name__ == "Or"
    assert [type(i).__name__ for i in node.items] == ["And", "And"]
    near = node.items[1].items[0]
    assert (near.left.name, near.right.name, near.words, near.ordered) == ("entity", "c", 3, False)
    assert parse_condition("before(a, b, 2)").ordered is True
    together = parse_condition("together(a, b, 4)")
    assert (together.ordered, together.clause, together.words) == (False, True, 4)
    assert parse_condition("near(a, b, 4)").clause is False


def test_what_every_alternative_needs_is_needed() -> None:
    # Both alternatives need `pipe`, so a text without it can be skipped unread.
    clauses = anchor_clauses(parse_condition("near(flow, pipe, 8) or before(launch, pipe, 3)"))
    assert frozenset({"pipe"}) in clauses
    assert frozenset({"flow", "launch"}) in clauses
    assert anchor_clauses(parse_condition("a or not b")) == []


def test_each_alternative_offers_its_cheapest_clause() -> None:
    # "footage near the jet, or flows in the pipe": by default each alternative offers its
    # first shortest clause; with a cost that knows common words from names, the jet's
    # and the pipe's (the matcher's cost, so that "footage" is not looked up in every text).
    condition = parse_condition("together(footage, jet, 4) or near(flow, pipe, 8)")
    assert anchor_clauses(condition) == [frozenset({"footage", "flow"})]
    names = {"jet", "pipe"}
    cheap = anchor_clauses(condition, cost=lambda clause: len(clause - names))
    assert cheap == [frozenset({"jet", "pipe"})]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty condition"),
        ("a and", "expected a term list name"),
        ("a & b", "unexpected character '&'"),
        ("near(a, b)", "expected ','"),
        ("(a or b", "expected ')'"),
        ("a b", "unexpected 'b'"),
        ("together(a, b)", "expected ','"),
    ],
)
def test_condition_syntax_errors_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match=re.escape(message)):
        parse_condition(text)


# --------------------------------------------------------------------------- loading


def test_load_good_signal(tmp_path: Path) -> None:
    write(tmp_path, "widget.yaml", GOOD)
    [signal] = load_signals([tmp_path], builtin=PACK)
    assert signal.id == "widget-deal"
    assert signal.state_names() == ("none", "bought")
    [state] = signal.states
    assert state.min_sources == 2
    assert state.within == timedelta(days=14)
    assert state.severity == "critical"
    assert state.weaker == "none"
    assert signal.entities == ()
    assert signal.aggregate is None
    assert run_signal_tests([signal]) == []


def test_every_error_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "broken.yaml",
        """
        id: broken
        question: Is it broken?
        initial: fine
        colour: red
        terms:
          thing: [thing*]
          bad: [{regex: "(unclosed"}]
        states:
          empty: {when: ""}
          unknown: {when: "thing and nowhere"}
          slow: {when: "thing", within: soon, severity: loud}
          sideways: {when: "thing", weaker: upwards}
        tests:
          - text: a thing
            expect: missing-state
        """,
    )
    errors = errors_of([path])
    expected = [
        (4, "unknown key 'colour'"),
        (7, "bad regular expression '(unclosed'"),
        (9, "state 'empty': empty condition"),
        (10, "state 'unknown': unknown term list 'nowhere'"),
        (11, "state 'slow': `within`: expected a duration like 30m, 12h or 14d"),
        (11, "state 'slow': `severity` must be one of info, warning, critical"),
        (12, "state 'sideways': `weaker` must name another state"),
    ]
    for line, message in expected:
        assert any(e.startswith(f"{path}:{line}: {message}") for e in errors), (line, errors)


def test_test_expectations_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "widget.yaml",
        GOOD.replace("expect: bought", "expect: sold\n        entity: Acme"),
    )
    errors = errors_of([path])
    assert any(
        f"{path}:10: test 1: `expect` must be one of bought, no-match, none" in e for e in errors
    )
    assert any(f"{path}:10: test 1: unknown entity 'Acme'" in e for e in errors)


def test_errors_from_several_files_come_together(tmp_path: Path) -> None:
    one = write(tmp_path, "one.yaml", "id: one\nquestion: q\ninitial: a\nstates: {}\n")
    two = write(tmp_path, "two.yaml", "id: two\n  bad: [yaml\n")
    errors = errors_of([tmp_path])
    assert any(e.startswith(f"{one}:") and "`states`" in e for e in errors)
    assert any(e.startswith(f"{two}:") and "not valid YAML" in e for e in errors)


def test_duplicate_keys_and_ids_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    b = write(tmp_path, "b.yaml", GOOD.replace("initial: none", "initial: none\n    initial: x"))
    c = write(tmp_path, "c.yaml", GOOD)
    errors = errors_of([tmp_path])
    assert any(e.startswith(f"{b}:4: duplicate key 'initial'") for e in errors)
    assert any(e.startswith(f"{c}:1: signal id 'widget-deal' is also used by") for e in errors)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    errors = errors_of([tmp_path / "nowhere"])
    assert errors == [f"{tmp_path / 'nowhere'}:0: no such file or folder"]


def test_builtin_vocabulary_is_available_anywhere(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kz.yaml",
        """
        id: kz-watch
        question: Does Kazakhstan say something?
        initial: quiet
        entities: [Kazakhstan]
        terms:
          say: [said, says]
        states:
          spoke: {when: "near(entity, say, 3)"}
        tests:
          - text: Tokayev says hello
            expect: spoke
            entity: Kazakhstan
          - text: Токаев не says hello
            expect: no-match
        """,
    )
    [signal] = load_signals([path], builtin=PACK)
    assert signal.entities == ("Kazakhstan",)
    assert run_signal_tests([signal]) == []


def test_unknown_entity_and_entity_misuse(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.yaml",
        """
        id: e
        question: q
        initial: a
        entities: [Atlantis]
        terms:
          x: [x]
        states:
          b: {when: "x"}
        """,
    )
    errors = errors_of([path])
    assert any(f"{path}:4: unknown entity 'Atlantis'" in e for e in errors)
    assert any(f"{path}:8: state 'b': the signal has entities" in e for e in errors)


def test_own_vocabulary_folder_adds_lists_and_entities(tmp_path: Path) -> None:
    write(
        tmp_path,
        "vocab/extra.yaml",
        """
        terms:
          gadget: [gadget*]
          negation: [nie]
        entities:
          Acme: [Acme, ACME Corp]
        """,
    )
    write(
        tmp_path,
        "acme.yaml",
        """
        id: acme-gadgets
        question: Does Acme ship gadgets?
        initial: none
        entities: [Acme]
        terms:
          ship: [ships, shipped]
        states:
          shipping: {when: "near(entity, ship, 2) and gadget"}
        tests:
          - text: ACME Corp shipped gadgets
            expect: shipping
            entity: Acme
          - text: Acme nie shipped gadgets
            expect: no-match
          - text: Acme has not shipped gadgets
            expect: no-match
        """,
    )
    [signal] = load_signals([tmp_path], builtin=PACK)
    assert run_signal_tests([signal]) == []


def test_a_vocab_folder_named_directly_is_vocabulary(tmp_path: Path) -> None:
    write(tmp_path, "vocab/extra.yaml", "terms:\n  gizmo: [gizmo*]\n")
    assert load_signals([tmp_path / "vocab"], builtin=PACK) == []


def test_yaml_booleans_in_term_lists_are_caught(tmp_path: Path) -> None:
    path = write(tmp_path, "b.yaml", GOOD.replace("bought]", "bought, no]"))
    errors = errors_of([path])
    assert any(f"{path}:6: term list 'buy': expected a word or phrase" in e for e in errors)


def test_include_of_unknown_list(tmp_path: Path) -> None:
    path = write(tmp_path, "i.yaml", GOOD.replace("[widget*]", '["@gizmo"]'))
    errors = errors_of([path])
    assert any(f"{path}:5: @gizmo: no term list or vocabulary entity" in e for e in errors)


AGGREGATE = """
    id: acme-away
    question: How many are away?
    initial: all-present
    aggregate: {of: OF, away: [AWAY]}
    states:
      some-away: {min_count: 1, severity: info}
"""

MEMBERS = """
    id: members
    question: Who is away?
    initial: present
    entities: {Acme: [Acme], Bolt: [Bolt]}
    terms:
      skip: [skips]
    states:
      absent: {when: "near(entity, skip, 1)"}
"""


def test_aggregate_signal(tmp_path: Path) -> None:
    write(tmp_path, "members.yaml", MEMBERS)
    write(tmp_path, "away.yaml", AGGREGATE.replace("OF", "members").replace("AWAY", "absent"))
    signals = {s.id: s for s in load_signals([tmp_path], builtin=PACK)}
    aggregate = signals["acme-away"].aggregate
    assert aggregate is not None and aggregate.of == "members" and aggregate.away == ("absent",)
    assert signals["acme-away"].states[0].min_count == 1
    assert signals["members"].entities == ("Acme", "Bolt")


@pytest.mark.parametrize(
    ("of", "away", "message"),
    [
        ("nobody", "absent", "aggregate of unknown signal 'nobody'"),
        ("members", "asleep", "'members' has no state 'asleep'"),
    ],
)
def test_aggregate_errors(tmp_path: Path, of: str, away: str, message: str) -> None:
    write(tmp_path, "members.yaml", MEMBERS)
    path = write(tmp_path, "away.yaml", AGGREGATE.replace("OF", of).replace("AWAY", away))
    assert any(e.startswith(f"{path}:4: ") and message in e for e in errors_of([tmp_path]))


def test_aggregate_states_need_min_count_and_no_when(tmp_path: Path) -> None:
    write(tmp_path, "members.yaml", MEMBERS)
    path = write(
        tmp_path,
        "away.yaml",
        AGGREGATE.replace("OF", "members")
        .replace("AWAY", "absent")
        .replace("{min_count: 1, severity: info}", '{when: "x"}'),
    )
    errors = errors_of([tmp_path])
    assert any(
        f"{path}:6: state 'some-away': an aggregate signal's states have no" in e for e in errors
    )
    assert any("needs `min_count`" in e for e in errors)


def test_failing_embedded_test_is_reported_with_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "w.yaml", GOOD + "      - text: Acme may buy widgets\n        expect: bought\n"
    )
    [signal] = load_signals([path], builtin=PACK)
    [failure] = run_signal_tests([signal])
    assert failure.startswith(f"{path}:12: widget-deal:")
    assert "expected bought (for), got none (for, hedged)" in failure


def test_a_broken_vocabulary_list_is_reported_once(tmp_path: Path) -> None:
    vocab = write(tmp_path, "vocab/bad.yaml", "terms:\n  gizmo: [gi*zmo]\n")
    write(tmp_path, "a.yaml", GOOD.replace("[widget*]", '["@gizmo"]'))
    write(tmp_path, "b.yaml", GOOD.replace("[widget*]", '["@gizmo"]').replace("widget-deal", "b"))
    errors = errors_of([tmp_path])
    assert [e for e in errors if e.startswith(f"{vocab}:")] == [
        f"{vocab}:2: 'gi*zmo': '*' may only end a word, as in 'deliver*'"
    ]


# --------------------------------------------------------------------------- label, corroboration

TWO_STEP = """
    id: widget-delivery
    question: Have the widgets arrived?
    initial: none
    terms:
      widget: [widget*]
      arrive: [arrived]
    states:
      reported: {when: "widget and arrive"}
      confirmed:
        when: "widget and arrive"
        CORROBORATION
"""


def test_label_is_a_short_display_name_defaulting_to_the_id(tmp_path: Path) -> None:
    write(
        tmp_path, "a.yaml", GOOD.replace("id: widget-deal", "id: widget-deal\n    label: Widgets")
    )
    write(tmp_path, "b.yaml", GOOD.replace("widget-deal", "widget-other"))
    signals = {s.id: s for s in load_signals([tmp_path], builtin=PACK)}
    assert signals["widget-deal"].label == "Widgets"
    assert signals["widget-other"].label == "widget-other"


@pytest.mark.parametrize("label", ['""', "[Widgets]", "x" * 41])
def test_bad_label_is_an_error_on_its_line(tmp_path: Path, label: str) -> None:
    path = write(
        tmp_path, "a.yaml", GOOD.replace("id: widget-deal", f"id: widget-deal\n    label: {label}")
    )
    assert any(e.startswith(f"{path}:2: ") and "`label`" in e for e in errors_of([path]))


def test_corroboration_is_read(tmp_path: Path) -> None:
    body = TWO_STEP.replace("CORROBORATION", "corroboration: {min_sources: 3, within: 14d}")
    write(tmp_path, "w.yaml", body)
    [signal] = load_signals([tmp_path], builtin=PACK)
    confirmed = signal.state("confirmed")
    assert confirmed.corroboration == Corroboration(
        min_sources=3, min_stories=1, within=timedelta(days=14)
    )
    assert confirmed.weaker == "reported"
    assert signal.state("reported").corroboration is None


def test_corroboration_as_a_block_mapping(tmp_path: Path) -> None:
    block = "corroboration:\n          min_stories: 2\n          min_sources: 2"
    write(tmp_path, "w.yaml", TWO_STEP.replace("CORROBORATION", block))
    [signal] = load_signals([tmp_path], builtin=PACK)
    assert signal.state("confirmed").corroboration == Corroboration(2, 2, None)


@pytest.mark.parametrize(
    ("setting", "line", "message"),
    [
        ("corroboration: 3", 11, "`corroboration` must be a mapping such as"),
        ("corroboration: {min_sources: 0}", 11,
         "`corroboration.min_sources` must be a whole number"),
        ("corroboration: {min_sources: 2, within: soon}", 11,
         "`corroboration.within`: expected a duration"),
        ("corroboration: {sources: 2}", 11, "`corroboration`: unknown key 'sources'"),
        ("corroboration: {within: 3d}", 11,
         "`corroboration` needs min_sources or min_stories of at least 2"),
        ("corroboration:\n          min_sources: 2\n          min_stories: many", 13,
         "`corroboration.min_stories` must be a whole number"),
    ],
)  # fmt: skip
def test_bad_corroboration_is_an_error_on_its_line(
    tmp_path: Path, setting: str, line: int, message: str
) -> None:
    path = write(tmp_path, "w.yaml", TWO_STEP.replace("CORROBORATION", setting))
    errors = errors_of([path])
    assert any(e.startswith(f"{path}:{line}: state 'confirmed': {message}") for e in errors), errors


def test_corroboration_needs_a_weaker_state_to_count(tmp_path: Path) -> None:
    body = TWO_STEP.replace(
        "CORROBORATION", "corroboration: {min_sources: 2}\n        weaker: none"
    )
    path = write(tmp_path, "w.yaml", body)
    assert any("counts reports of the `weaker` state" in e for e in errors_of([path]))


def test_both_yaml_parsers_read_the_same_values_and_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "w.yaml", TWO_STEP.replace("CORROBORATION", "min_sources: 2"))

    def shape(value: object) -> object:
        if isinstance(value, dict):
            return (value.line, value.lines, {k: shape(v) for k, v in value.items()})
        if isinstance(value, list):
            return (value.line, value.lines, [shape(v) for v in value])
        return value

    assert shape(load_yaml(path)) == shape(load_yaml(path, PurePythonLoader))
    assert load_yaml(path)["states"].line_of("confirmed") == 9
    broken = write(tmp_path, "b.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    for loader in (None, PurePythonLoader):
        with pytest.raises(YamlFileError) as caught:
            load_yaml(broken, loader)
        assert caught.value.line == 3 and "not valid YAML" in caught.value.message


@pytest.mark.parametrize(
    "source", [r"(?<!он\s)не\s+приехал", r"(?<!not\s)attend\w*", r"(?:(?<=Minsk\s)|x)trip"]
)
def test_a_lookbehind_opening_with_a_word_is_refused(source: str) -> None:
    # "(?<!он\s)" also sees "Рахмон " and would refuse "Рахмон не приехал".
    with pytest.raises(TermError, match="start it at a word boundary"):
        compile_regex(source)


@pytest.mark.parametrize(
    "source",
    [r"(?<!(?<!\w)он\s)не\s+приехал", r"(?<=n't\s)attend", r"(?<![\w.])x", r"(?<=Moscow)['’]s"],
)
def test_a_lookbehind_starting_at_a_boundary_or_not_at_a_word_is_taken(source: str) -> None:
    assert compile_regex(source) == source
