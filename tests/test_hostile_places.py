"""An event's `{regex: ...}` place term cannot hang naming an occurrence: it runs with the
matcher's time limit, and a title it runs past is read as naming no place."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import pytest
from test_occurrences import NOW, news, summit_signal

from allywatch.alerts.occurrences import Calendar
from allywatch.language import bounded
from allywatch.language.model import TermList
from allywatch.language.terms import compile_plain

SLOW = "(a|a)+$"  # overlapping alternatives: exponential on a long run of "a" and no end


def cities(*terms: str) -> TermList:
    sources = [t[len("regex:") :] if t.startswith("regex:") else compile_plain(t)[0] for t in terms]
    regexes = tuple(t[len("regex:") :] for t in terms if t.startswith("regex:"))
    return TermList("summit_cities", terms, "|".join(f"(?:{s})" for s in sources), None, regexes)


def place(places: TermList, *titles: str) -> str | None:
    signal = summit_signal()
    summit = replace(signal.events["summit"], places=places)
    reports = [
        news(f"2025-11-27T{8 + n:02d}:00", "Belarus", "attending", title)
        for n, title in enumerate(titles)
    ]
    signal = replace(signal, events={"summit": summit})
    return Calendar.of(signal, reports, NOW).series["summit"].occurrence(0, NOW).place


def test_a_place_term_past_the_time_limit_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bounded, "MATCH_TIMEOUT", 0.05)
    places = cities("Minsk", "Bishkek", f"regex:{SLOW}")
    hostile = "Leaders gather " + "a" * 5000 + "!"

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="allywatch.occurrences"):
        named = place(places, hostile, "Lukashenko flies to Minsk", "Tokayev lands in Minsk")
    assert time.monotonic() - started < 5
    assert named == "Minsk"  # the other titles still name the place
    assert any(
        "place terms summit_cities skipped for 'Leaders gather aaa" in message
        and "matching took over" in message
        for message in caplog.messages
    )


def test_a_regex_place_term_names_the_place_as_the_title_spells_it() -> None:
    places = cities("Minsk", r"regex:Bishkek\w*")
    assert place(places, "Japarov hosts the summit in Bishkek today") == "Bishkek"
