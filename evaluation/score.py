"""Score the built-in signals on labelled news: precision and recall per seed signal and language.

    python evaluation/score.py [SET ...] [--part tune|holdout] [--half A|B|C]
                               [--noise NOISE.jsonl.gz] [--no-noise] [--signals PATH ...]
                               [--record-first-sight] [--list | --quiet]

A SET is any labelled file in the dev set's format: one of the sets in this folder
(MANIFEST.md says what each is, when it was written and whether rules were tuned on
it) or one of the evaluation data outside the repository. Without SET, every set is
scored: this folder's, then the shared dev set and the real-headline set's tune and
hold-out parts; a shared set that is absent (a clone without the evaluation data beside
it) is named in one line and skipped.

`--part` scores one part of a set under the fixed split written down in MANIFEST.md
before anyone looked at where items land (`part_of`: the first byte of the SHA-256 of
the item's id, even: tune, odd: holdout). Items of some sets carry a `half` (A, B or
C): `--half B` scores one of them. The hold-out part is shown as figures only, never
its items (not even with --list), so that no rule is fitted to what it holds.

Scoring (see the evaluation data's README): per seed signal, the observations with
polarity "for" at a non-initial state count; a true hit matches a label (signal,
entity, state), a false hit matches none, a miss is a label no observation matched.
Items listing the signal as ambiguous are left out for it. The signal's line gives
precision on all items and recall on English ones (the bar); a line per language
follows (the item's `lang`, or its script: Cyrillic with і, ї, є or ґ is uk, other
Cyrillic ru, else en). Beside the current figures stand the first-sight ones, the
set's score before any rule was changed because of it, kept in first-sight.json
(`--record-first-sight` adds the figures of a set or part not yet there, never
changing one that is).

Unless --no-noise, it also prints how many items of the unlabelled noise corpus
(default: the 20,000 items of the evaluation data) produce a hit, per signal, and
shows them.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from allywatch.resources import builtin_dir  # noqa: E402
from allywatch.signal_cache import load_signals_keeping_checks  # noqa: E402
from allywatch.watchers.matcher import Matcher  # noqa: E402
from allywatch.watchers.text import html_to_text  # noqa: E402

SEED = ("csto-summit-attendance", "su35-iran", "power-of-siberia-2")
HERE = REPO / "evaluation"
SHARED = REPO.parent / "shared" / "eval"
DEFAULT_DEV = SHARED / "dev.jsonl"
DEV_REAL = SHARED / "dev_real.jsonl"
DEFAULT_NOISE = SHARED / "noise2022.jsonl.gz"
FIRST_SIGHT = HERE / "first-sight.json"
PARTS = ("tune", "holdout")


def part_of(item_id: str) -> str:
    """The fixed split of MANIFEST.md: the SHA-256 of the id, first byte even: tune."""
    return "tune" if hashlib.sha256(item_id.encode("utf-8")).digest()[0] % 2 == 0 else "holdout"


_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")


def language(item: dict) -> str:
    """The item's `lang`, else its script: Cyrillic with і/ї/є/ґ uk, other Cyrillic ru, else en."""
    if item.get("lang"):
        return str(item["lang"])
    text = f"{item.get('title', '')} {item.get('summary', '')}"
    if _CYRILLIC.search(text):
        return "uk" if _UKRAINIAN.search(text) else "ru"
    return "en"


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


def set_key(path: Path, part: str | None, half: str | None) -> str:
    key = path.name
    if part:
        key += f":{part}"
    if half:
        key += f":half-{half}"
    return key


def count(
    matcher: Matcher,
    path: Path,
    initial: dict[str, str],
    part: str | None,
    half: str | None,
) -> tuple[dict[str, dict[str, Counter]], list, list]:
    """Per signal and language: tp, fp, fn; and the false hits and misses."""
    counts: dict[str, dict[str, Counter]] = {s: defaultdict(Counter) for s in SEED}
    false_hits: list[tuple[str, dict, tuple]] = []
    misses: list[tuple[str, dict, tuple]] = []
    for item in read_items(path):
        if half is not None and item.get("half") != half:
            continue
        if part is not None and part_of(str(item["id"])) != part:
            continue
        lang = language(item)
        found = hits(matcher, item, initial)
        labels = {(x["signal"], x["entity"], x["state"]) for x in item["labels"]}
        for signal in SEED:
            if signal in item.get("ambiguous", []):
                continue
            mine = {h for h in found if h[0] == signal}
            wanted = {label for label in labels if label[0] == signal}
            c = counts[signal][lang]
            c["tp"] += len(mine & wanted)
            c["fp"] += len(mine - wanted)
            c["fn"] += len(wanted - mine)
            false_hits += [(signal, item, h) for h in mine - wanted]
            misses += [(signal, item, label) for label in wanted - mine]
    return counts, false_hits, misses


def _ratios(c: Counter) -> tuple[float, float]:
    # No hits at all is perfect precision; no labels is perfect recall.
    precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
    return precision, recall


def _signal_total(per_lang: dict[str, Counter]) -> tuple[Counter, float, float]:
    """All languages' counts; precision on all items, recall on English ones (the bar)."""
    total: Counter = Counter()
    for c in per_lang.values():
        total.update(c)
    precision, _ = _ratios(total)
    _, recall = _ratios(per_lang.get("en", Counter()))
    return total, precision, recall


def _pr(c: Counter | None, precision: float | None = None, recall: float | None = None) -> str:
    if c is None:
        return f"{'-':>24}"
    p, r = _ratios(c)
    p = p if precision is None else precision
    r = r if recall is None else recall
    return f"{c['tp']:3} {c['fp']:3} {c['fn']:3} {p:6.3f} {r:6.3f}"


def report(
    key: str,
    counts: dict[str, dict[str, Counter]],
    first: dict | None,
    false_hits: list,
    misses: list,
    listing: bool,
) -> bool:
    print(f"\n== {key}")
    print(f"{'signal / language':32} {'now: TP  FP  FN      P      R':>30}   {'first sight':>24}")
    passed = True
    grand: Counter = Counter()
    grand_first: Counter = Counter()
    for signal in SEED:
        per_lang = counts[signal]
        total, precision, recall = _signal_total(per_lang)
        grand.update(total)
        passed &= precision >= 0.95 and recall >= 0.90
        first_sig = None if first is None else first.get(signal, {})
        if first_sig is not None:
            ftotal, fp, fr = _signal_total({k: Counter(v) for k, v in first_sig.items()})
            grand_first.update(ftotal)
            first_text = _pr(ftotal, fp, fr)
        else:
            first_text = _pr(None)
        print(f"{signal:32} {'':5}{_pr(total, precision, recall)}   {first_text}")
        # The languages with a hit or a label, now or at first sight.
        langs = sorted(
            {k for k, v in per_lang.items() if any(v.values())}
            | {k for k, v in (first_sig or {}).items() if any(v.values())},
            key=lambda x: (x != "en", x),
        )
        for lang in langs:
            now = per_lang.get(lang, Counter())
            then = None if first_sig is None else Counter(first_sig.get(lang, {}))
            print(f"  {lang:30} {'':5}{_pr(now)}   {_pr(then)}")
    precision, _ = _ratios(grand)
    en_total: Counter = Counter()
    for signal in SEED:
        en_total.update(counts[signal].get("en", Counter()))
    _, recall = _ratios(en_total)
    print(f"{'overall (P all, R English)':32} {'':5}{_pr(grand, precision, recall)}")
    if listing:
        for title, rows in (("false hits", false_hits), ("misses", misses)):
            print(f"\n{title}: {len(rows)}")
            for signal, item, k in rows:
                print(f"  {item.get('id')} [{language(item)}] {signal} {k[1] or ''} {k[2]}")
                print(f"      {html_to_text(item['title'])[:160]}")
    return passed


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


def default_sets() -> list[tuple[Path, str | None]]:
    sets: list[tuple[Path, str | None]] = [(p, None) for p in sorted(HERE.glob("*.jsonl"))]
    sets.append((DEFAULT_DEV, None))
    sets += [(DEV_REAL, part) for part in PARTS]
    return sets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", type=Path, help="labelled sets (default: all)")
    parser.add_argument(
        "--noise", type=Path, default=DEFAULT_NOISE, help=f"default: {DEFAULT_NOISE}"
    )
    parser.add_argument("--part", choices=PARTS, help="score one part of the fixed split")
    parser.add_argument("--half", choices=("A", "B", "C"), help="score only this part of the items")
    parser.add_argument("--no-noise", action="store_true", help="skip the noise corpus")
    parser.add_argument("--show", type=int, default=10, help="noise hits to show per signal")
    parser.add_argument("--signals", type=Path, nargs="*", default=[builtin_dir("signals")])
    parser.add_argument(
        "--record-first-sight",
        action="store_true",
        help="keep these figures as the first-sight ones of sets not yet in first-sight.json",
    )
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--list", action="store_true", help="list false hits and misses")
    shown.add_argument("--quiet", action="store_true", help="do not list them")
    args = parser.parse_args()
    if args.sets:
        sets = [(path, args.part) for path in args.sets]
    else:
        sets = default_sets() if args.part is None else [(DEV_REAL, args.part)]
    listing = args.list or (len(sets) == 1 and not args.quiet)
    signals = load_signals_keeping_checks(args.signals, builtin=builtin_dir("signals"))
    initial = {s.id: s.initial for s in signals if s.aggregate is None}
    matcher = Matcher(signals)
    first_sight = json.loads(FIRST_SIGHT.read_text()) if FIRST_SIGHT.exists() else {}
    recorded = False
    passed = True
    for path, part in sets:
        if not path.exists():
            print(f"\n== {path.name}: skipped, not found at {path}")
            continue
        key = set_key(path, part, args.half)
        counts, false_hits, misses = count(matcher, path, initial, part, args.half)
        if args.record_first_sight and key not in first_sight:
            first_sight[key] = {s: {k: dict(v) for k, v in counts[s].items()} for s in SEED}
            recorded = True
        shows_items = listing and part != "holdout"
        passed &= report(key, counts, first_sight.get(key), false_hits, misses, shows_items)
        if listing and not shows_items:
            counted = f"{len(false_hits)} false hits, {len(misses)} misses"
            print(f"\n({counted}: hold-out items are not listed)")
    if recorded:
        FIRST_SIGHT.write_text(json.dumps(first_sight, indent=1, sort_keys=True) + "\n")
        print(f"\nfirst-sight figures recorded in {FIRST_SIGHT.relative_to(REPO)}")
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
