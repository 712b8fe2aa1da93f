"""The checks of `{regex: ...}` terms recalled from an earlier load (language/regex_checks.py)
and kept between runs in a cache file (allywatch/signal_cache.py's
`load_signals_keeping_checks`): a load that recalls them gives what a load checking every
term gives, a refused term is reported every time, a damaged or foreign cache file is not
used, the file holds only the terms in use and is written only when they change, and
`load_signals` itself reads and writes no cache file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_hostile_patterns import _signal_file  # a signal with one regex term

from allywatch import signal_cache
from allywatch.language import regex_checks
from allywatch.language.loader import SignalFileError, load_signals
from allywatch.language.model import Signal
from allywatch.language.regex_checks import RegexChecks
from allywatch.language.terms import compile_regex
from allywatch.resources import builtin_dir
from allywatch.signal_cache import load_signals_keeping_checks

PACK = builtin_dir("signals")
DAMAGE = [
    lambda data: {**data, "key": "another version of the code"},
    lambda data: {**data, "value": {s: [[["x", "yes", False]]] for s in data["value"]}},
    lambda data: {**data, "value": {s: [] for s in data["value"]}},
    lambda data: {**data, "value": ["not", "a", "mapping"]},
    lambda data: "not a mapping",
]


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


def _count_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def counted(source: str) -> str:
        calls.append(source)
        return compile_regex(source)

    monkeypatch.setattr(regex_checks, "compile_regex", counted)
    return calls


def test_a_load_recalling_the_checks_gives_what_checking_every_term_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = load_signals_keeping_checks([PACK], builtin=PACK)
    assert len(_cache_files(tmp_path)) == 1
    _refuse_every_check(monkeypatch)
    recalled = load_signals_keeping_checks([PACK], builtin=PACK)
    assert _term_lists(recalled) == _term_lists(checked)
    assert [s.tests for s in recalled] == [s.tests for s in checked]


def test_checks_recalled_in_memory_give_what_checking_every_term_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = RegexChecks()
    checked = load_signals([PACK], builtin=PACK, checks=first)
    assert first.changed and first.to_json()
    kept = RegexChecks.from_json(json.loads(json.dumps(first.to_json())))
    _refuse_every_check(monkeypatch)
    recalled = load_signals([PACK], builtin=PACK, checks=kept)
    assert _term_lists(recalled) == _term_lists(checked)
    assert not kept.changed
    assert kept.to_json() == first.to_json()


def test_a_refused_term_is_reported_on_every_load(tmp_path: Path) -> None:
    path = _signal_file(tmp_path, r"(a+)+$")
    messages = []
    for _ in range(2):
        with pytest.raises(SignalFileError) as raised:
            load_signals_keeping_checks([path], builtin=PACK)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert "may take for ever to match" in messages[0]
    assert not _cache_files(tmp_path)
    checks = RegexChecks()
    with pytest.raises(SignalFileError):
        load_signals([path], builtin=PACK, checks=checks)
    assert r"(a+)+$" not in checks.to_json()


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_foreign_or_damaged_cache_file_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: Any
) -> None:
    path = _signal_file(tmp_path, "gadget[a-z]*")
    checked = load_signals_keeping_checks([path], builtin=PACK)
    (cache,) = _cache_files(tmp_path)
    cache.write_text(json.dumps(damage(json.loads(cache.read_text()))), encoding="utf-8")
    calls = _count_checks(monkeypatch)
    assert _term_lists(load_signals_keeping_checks([path], builtin=PACK)) == _term_lists(checked)
    assert "gadget[a-z]*" in calls
    written = json.loads(cache.read_text())  # over the damaged one
    assert written["key"] == regex_checks.checks_version()
    assert "gadget[a-z]*" in written["value"]
    RegexChecks.from_json(written["value"])


@pytest.mark.parametrize(
    "value",
    [
        {"gadget": [[["x", "yes", False]]]},
        {"gadget": []},
        {"gadget": [[]]},
        {"gadget": 3},
        ["not", "a", "mapping"],
        "not a mapping",
    ],
)
def test_checks_that_to_json_did_not_give_are_refused(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        RegexChecks.from_json(value)


def test_the_cache_keeps_only_the_terms_in_use(tmp_path: Path) -> None:
    for pattern in ("gadget[a-z]*", "gizmo[a-z]*"):
        load_signals_keeping_checks([_signal_file(tmp_path, pattern)], builtin=PACK)
    (cache,) = _cache_files(tmp_path)
    kept = json.loads(cache.read_text())["value"]
    assert "gizmo[a-z]*" in kept and "gadget[a-z]*" not in kept


def test_the_cache_is_written_only_when_the_terms_in_use_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[Path | None] = []
    write_cache = signal_cache.write_cache

    def counted(cache: Path | None, key: str, value: Any) -> None:
        writes.append(cache)
        write_cache(cache, key, value)

    monkeypatch.setattr(signal_cache, "write_cache", counted)
    path = _signal_file(tmp_path, "gadget[a-z]*")
    for _ in range(2):
        load_signals_keeping_checks([path], builtin=PACK)
    assert len(writes) == 1
    _signal_file(tmp_path, "gizmo[a-z]*")
    load_signals_keeping_checks([path], builtin=PACK)
    assert len(writes) == 2


def test_load_signals_reads_and_writes_no_cache_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _signal_file(tmp_path, "gadget[a-z]*")
    load_signals([path], builtin=PACK)
    assert not (tmp_path / "cache").exists()
    load_signals_keeping_checks([path], builtin=PACK)
    (cache,) = _cache_files(tmp_path)
    before = cache.read_bytes(), cache.stat().st_mtime_ns
    calls = _count_checks(monkeypatch)
    load_signals([path], builtin=PACK)
    assert "gadget[a-z]*" in calls
    assert (cache.read_bytes(), cache.stat().st_mtime_ns) == before
