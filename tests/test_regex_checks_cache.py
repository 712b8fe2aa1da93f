"""The checks of `{regex: ...}` terms kept between loads (language/regex_checks.py): a load
that recalls them gives what a load checking every term gives, a refused term is
reported every time, and a damaged or foreign cache file is not used."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from allywatch.language import regex_checks
from allywatch.language.loader import SignalFileError, load_signals
from allywatch.language.model import Signal
from allywatch.language.terms import compile_regex
from allywatch.resources import builtin_dir

PACK = builtin_dir("signals")
SIGNAL = """
id: widgets
question: Has Acme bought widgets?
initial: none
terms:
  widget:
    - widget*
    - {regex: "%s"}
  buy: [bought]
states:
  bought: {when: "widget and buy"}
"""


@pytest.fixture(autouse=True)
def _cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


def _cache_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "allywatch").glob("regex-checks-*.json"))


def _term_lists(signals: list[Signal]) -> list[tuple[str, str, object, tuple[str, ...]]]:
    """Every term list of the signals as loading gave it: name, source, keys, regex terms."""
    return [
        (s.id, t.source, t.keys, t.regex_sources)
        for s in signals
        for group in (s.terms, s.entity_terms, s.cues)
        for t in group.values()
    ]


def _refuse_every_check(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(source: str) -> str:
        raise AssertionError(f"checked again: {source}")

    monkeypatch.setattr(regex_checks, "compile_regex", refused)


def test_a_load_recalling_the_checks_gives_what_checking_every_term_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = load_signals([PACK], builtin=PACK)
    assert len(_cache_files(tmp_path)) == 1
    _refuse_every_check(monkeypatch)
    recalled = load_signals([PACK], builtin=PACK)
    assert _term_lists(recalled) == _term_lists(checked)
    assert [s.tests for s in recalled] == [s.tests for s in checked]


def test_a_refused_term_is_reported_on_every_load(tmp_path: Path) -> None:
    path = tmp_path / "widgets.yaml"
    path.write_text(textwrap.dedent(SIGNAL % r"(a+)+$"), encoding="utf-8")
    messages = []
    for _ in range(2):
        with pytest.raises(SignalFileError) as raised:
            load_signals([path], builtin=PACK)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert "may take for ever to match" in messages[0]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: {**data, "key": "another version of the code"},
        lambda data: {**data, "value": {s: [[["x", "yes", False]]] for s in data["value"]}},
        lambda data: {**data, "value": {s: [] for s in data["value"]}},
        lambda data: "not a mapping",
    ],
)
def test_a_foreign_or_damaged_cache_file_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: object
) -> None:
    path = tmp_path / "widgets.yaml"
    path.write_text(textwrap.dedent(SIGNAL % "gadget[a-z]*"), encoding="utf-8")
    checked = load_signals([path], builtin=PACK)
    (cache,) = _cache_files(tmp_path)
    assert callable(damage)
    cache.write_text(json.dumps(damage(json.loads(cache.read_text()))), encoding="utf-8")
    calls: list[str] = []

    def counted(source: str) -> str:
        calls.append(source)
        return compile_regex(source)

    monkeypatch.setattr(regex_checks, "compile_regex", counted)
    assert _term_lists(load_signals([path], builtin=PACK)) == _term_lists(checked)
    assert "gadget[a-z]*" in calls


def test_the_cache_keeps_only_the_terms_in_use(tmp_path: Path) -> None:
    path = tmp_path / "widgets.yaml"
    for pattern in ("gadget[a-z]*", "gizmo[a-z]*"):
        path.write_text(textwrap.dedent(SIGNAL % pattern), encoding="utf-8")
        load_signals([path], builtin=PACK)
    (cache,) = _cache_files(tmp_path)
    kept = json.loads(cache.read_text())["value"]
    assert "gizmo[a-z]*" in kept and "gadget[a-z]*" not in kept
