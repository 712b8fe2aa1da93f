"""Running the tests embedded in signal files (`allywatch signals test`) through the matcher."""

from __future__ import annotations

from allywatch.language.model import NO_MATCH, Signal, SignalTest
from allywatch.language.records import Observation
from allywatch.watchers.matcher import Matcher


def run_signal_tests(signals: list[Signal]) -> list[str]:
    """Run every signal's embedded tests; the failures as "FILE:LINE: message" (none: all pass)."""
    failures: list[str] = []
    matcher = Matcher(signals)
    for signal in signals:
        for test in signal.tests:
            observations = [
                o
                for o in matcher.match(test.title, test.summary)
                if o.signal == signal.id and (test.entity is None or o.entity == test.entity)
            ]
            problem = _test_problem(signal, test, observations)
            if problem:
                text = test.title or test.summary
                failures.append(f"{signal.path}:{test.line}: {signal.id}: {text!r}: {problem}")
    return failures


def _test_problem(signal: Signal, test: SignalTest, observations: list[Observation]) -> str | None:
    found = [o for o in observations if o.state != signal.initial]
    described = ", ".join(_describe(o) for o in found) or "nothing"
    if test.expect in (NO_MATCH, signal.initial):
        if any(o.polarity == "for" for o in found):
            return f"expected no match, got {described}"
        return None
    hits = [o for o in found if o.state == test.expect and o.polarity == test.polarity]
    if not hits:
        return f"expected {test.expect} ({test.polarity}), got {described}"
    if test.hedged is not None and all(o.hedged != test.hedged for o in hits):
        return f"expected hedged={test.hedged}, got {described}"
    others = [o for o in found if o.polarity == "for" and o.state != test.expect]
    if test.polarity == "for" and others:
        return f"expected only {test.expect}, got {described}"
    return None


def _describe(o: Observation) -> str:
    entity = f"/{o.entity}" if o.entity else ""
    hedged = ", hedged" if o.hedged else ""
    return f"{o.state}{entity} ({o.polarity}{hedged})"
