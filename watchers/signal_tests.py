"""Running the tests embedded in signal files (`allywatch signals test`) through the matcher.

A test expects a state, the initial one included (an observation of the status quo:
"talks continue"), several states an article evidences side by side, or `no-match`:
the text evidences no state at all. A hedged report that lands on the initial state
("Armenia may leave the CSTO" is no evidence of leaving) evidences nothing, so
`no-match` allows it; a test expecting the initial state wants an unhedged report of it
unless it says `hedged: true`.
"""

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
                where = test.path or signal.path  # a labels file's test names that file
                failures.append(f"{where}:{test.line}: {signal.id}: {text!r}: {problem}")
    return failures


def _test_problem(signal: Signal, test: SignalTest, observations: list[Observation]) -> str | None:
    found = [o for o in observations if not _demoted(signal, o)]
    described = ", ".join(_describe(o) for o in observations) or "nothing"
    if test.expect == NO_MATCH:
        if any(o.polarity == "for" for o in found):
            return f"expected no match, got {described}"
        return None
    hedged = test.hedged
    if hedged is None and test.expect == signal.initial:
        hedged = False
    expected = (test.expect, *test.also)
    for state in expected:
        hits = [o for o in observations if o.state == state and o.polarity == test.polarity]
        if not hits:
            return f"expected {state} ({test.polarity}), got {described}"
        if hedged is not None and all(o.hedged != hedged for o in hits):
            return f"expected hedged={hedged}, got {described}"
    others = [
        o for o in found if o.polarity == "for" and o.state not in (*expected, signal.initial)
    ]
    if test.polarity == "for" and others:
        return f"expected only {' and '.join(expected)}, got {described}"
    return None


def _demoted(signal: Signal, observation: Observation) -> bool:
    """A hedged report of the initial state: a hedge or a plan that evidences nothing."""
    return observation.state == signal.initial and observation.hedged


def _describe(o: Observation) -> str:
    entity = f"/{o.entity}" if o.entity else ""
    hedged = ", hedged" if o.hedged else ""
    return f"{o.state}{entity} ({o.polarity}{hedged})"
