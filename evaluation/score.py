"""Score the built-in signals on labelled news: precision and recall per seed signal.

    python evaluation/score.py [ITEMS.jsonl] [--half A|B|C] [--noise NOISE.jsonl.gz]
                               [--no-noise] [--signals PATH ...]

ITEMS is any labelled file in the dev set's format: one of the sets in this
folder (MANIFEST.md says what each is, when it was written and whether rules
were tuned on it), or by default the dev set of the evaluation data outside the
repository. Items of some sets carry a `half` (A, B or C, see MANIFEST.md):
`--half B` scores one part only.

Scoring (see the evaluation data's README): per seed signal, the observations
with polarity "for" at a non-initial state count; a true hit matches a label
(signal, entity, state), a false hit matches none, a miss is a label no
observation matched. Items listing the signal as ambiguous are left out for it.
Recall is measured on English items, precision on all items.

Recall on the other languages is printed beside it, for information.

Unless --no-noise, it also prints how many items of the unlabelled noise corpus
(default: the 20,000 items of the evaluation data) produce a hit, per signal, and
shows them. Data that is not there (a clone without the evaluation data beside
it) is named in one line and skipped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from allywatch.language.loader import load_signals  # noqa: E402
from allywatch.resources import builtin_dir  # noqa: E402
from allywatch.watchers.matcher import Matcher  # noqa: E402
from allywatch.watchers.text import html_to_text  # noqa: E402

SEED = ("csto-summit-attendance", "su35-iran", "power-of-siberia-2")
DEFAULT_DEV = REPO.parent / "shared" / "eval" / "dev.jsonl"
DEFAULT_NOISE = DEFAULT_DEV.parent / "noise2022.jsonl.gz"


def read_items(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def hits(matcher: Matcher, item: dict, initial: dict[str, str]) -> set[tuple]:
    """(signal, entity, state) of every for-observation at a non-initial state."""
    observations = matcher.match(html_to_text(item["title"]), html_to_text(item["summary"]))
    return {
        (o.signal, o.entity, o.state)
        for o in observations
        if o.polarity == "for" and o.state != initial.get(o.signal)
    }


def evaluate(matcher: Matcher, path: Path, initial: dict[str, str], half: str | None) -> bool:
    counts: dict[str, Counter] = defaultdict(Counter)
    false_hits: list[tuple[str, dict, tuple]] = []
    misses: list[tuple[str, dict, tuple]] = []
    for item in read_items(path):
        if half is not None and item.get("half") != half:
            continue
        found = hits(matcher, item, initial)
        labels = {(x["signal"], x["entity"], x["state"]) for x in item["labels"]}
        for signal in SEED:
            if signal in item.get("ambiguous", []):
                continue
            mine = {h for h in found if h[0] == signal}
            wanted = {label for label in labels if label[0] == signal}
            counts[signal]["tp"] += len(mine & wanted)
            counts[signal]["fp"] += len(mine - wanted)
            false_hits += [(signal, item, h) for h in mine - wanted]
            suffix = "" if item.get("lang") == "en" else "_other"
            counts[signal]["tp_en" + suffix] += len(mine & wanted)
            counts[signal]["fn" + suffix] += len(wanted - mine)
            misses += [(signal, item, label) for label in wanted - mine]
    print(
        f"{'signal':28} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>10} {'recall':>8}"
        f" {'other-lang recall':>18}"
    )
    total: Counter = Counter()
    passed = True
    for signal in SEED:
        c = counts[signal]
        total.update(c)
        precision, recall = _ratios(c)
        passed &= precision >= 0.95 and recall >= 0.90
        print(
            f"{signal:28} {c['tp']:4} {c['fp']:4} {c['fn']:4} {precision:10.3f} {recall:8.3f}"
            f" {_other_recall(c):>18}"
        )
    precision, recall = _ratios(total)
    print(
        f"{'overall':28} {total['tp']:4} {total['fp']:4} {total['fn']:4}"
        f" {precision:10.3f} {recall:8.3f}"
    )
    for title, rows in (("false hits", false_hits), ("misses", misses)):
        print(f"\n{title}: {len(rows)}")
        for signal, item, key in rows:
            print(f"  {item.get('id')} [{item.get('lang')}] {signal} {key[1] or ''} {key[2]}")
            print(f"      {html_to_text(item['title'])[:160]}")
    return passed


def _ratios(c: Counter) -> tuple[float, float]:
    # No hits at all is perfect precision; no English labels is perfect recall.
    precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    recall = c["tp_en"] / (c["tp_en"] + c["fn"]) if c["tp_en"] + c["fn"] else 1.0
    return precision, recall


def _other_recall(c: Counter) -> str:
    found, missed = c["tp_en_other"], c["fn_other"]
    return f"{found / (found + missed):.3f} ({found}/{found + missed})" if found + missed else "-"


def noise(matcher: Matcher, path: Path, initial: dict[str, str], show: int) -> None:
    per_signal: Counter = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    total = 0
    for item in read_items(path):
        total += 1
        for signal, entity, state in hits(matcher, item, initial):
            per_signal[signal] += 1
            if len(examples[signal]) < show:
                label = f"{entity} {state}" if entity else state
                examples[signal].append(f"{label}: {html_to_text(item['title'])[:140]}")
    print(f"\nnoise: {total} items; items with a hit, per signal:")
    for signal in sorted(initial):
        print(f"  {signal:36} {per_signal[signal]}")
        for line in examples[signal]:
            print(f"      {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dev", nargs="?", type=Path, default=DEFAULT_DEV)
    parser.add_argument(
        "--noise", type=Path, default=DEFAULT_NOISE, help=f"default: {DEFAULT_NOISE}"
    )
    parser.add_argument("--half", choices=("A", "B", "C"), help="score only this part of the items")
    parser.add_argument("--no-noise", action="store_true", help="skip the noise corpus")
    parser.add_argument("--show", type=int, default=10, help="noise hits to show per signal")
    parser.add_argument("--signals", type=Path, nargs="*", default=[builtin_dir("signals")])
    args = parser.parse_args()
    if args.dev == DEFAULT_DEV and not args.dev.exists():
        print(f"skipped: no dev set at {DEFAULT_DEV}; name a set, e.g. evaluation/blind-3.jsonl")
        return 0
    signals = load_signals(args.signals, builtin=builtin_dir("signals"))
    initial = {s.id: s.initial for s in signals if s.aggregate is None}
    matcher = Matcher(signals)
    passed = evaluate(matcher, args.dev, initial, args.half)
    if not args.no_noise and not args.noise.exists():
        print(f"\nnoise corpus skipped: not found at {args.noise}")
    elif not args.no_noise:
        noise(matcher, args.noise, initial, args.show)
    print(
        "\nbar (precision >= 0.95, recall >= 0.90 per seed signal):", "met" if passed else "NOT met"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
