"""Show that matching cost barely grows with the number of signals.

    python bench/bench_matcher.py [NOISE.jsonl.gz] [--limit N] [--rounds R]

Matches the same articles (default: the 20,000-item noise corpus) against the 3
seed signals, then against those plus 97 synthetic signals written to a
temporary folder (made-up anchor words, so their anchors are absent from real
news, and ordinary words in their other term lists). Prints both timings and
their ratio; the target is a ratio of at most 2.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from outside_data import NOISE_CORPUS, require  # noqa: E402

from allywatch.language.loader import load_signals  # noqa: E402
from allywatch.resources import builtin_dir  # noqa: E402
from allywatch.watchers.matcher import Matcher  # noqa: E402
from allywatch.watchers.text import html_to_text  # noqa: E402

SEED_FILES = ("csto-summit-attendance.yaml", "su35-iran.yaml", "power-of-siberia-2.yaml")
COMMON = [
    "deliver*", "sign*", "agree*", "minister*", "government", "said", "talks", "deal",
    "summit", "troops", "oil", "gas", "build*", "start*", "leave", "join*", "attack*",
]  # fmt: skip


def made_up_word(rng: random.Random) -> str:
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    return "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(4)) + "x"


def synthetic_signal(n: int, rng: random.Random) -> str:
    anchors = [made_up_word(rng) for _ in range(3)]
    other = [made_up_word(rng) for _ in range(2)]
    context = rng.sample(COMMON, 4)
    return f"""id: synthetic-{n:03d}
question: Is synthetic watch point {n} active?
initial: quiet
terms:
  anchor: [{anchors[0]}, {anchors[1]}*, "{anchors[2]} {other[0]}"]
  other: [{other[1]}, {other[0]}*]
  context: [{", ".join(f'"{c}"' for c in context)}]
states:
  mentioned: {{when: "anchor and (context or other)"}}
  active: {{when: "near(anchor, context, 4) and not other"}}
tests:
  - text: "{anchors[0]} {context[0].rstrip("*")} today"
    expect: active
"""


def load_articles(path: Path, limit: int | None) -> list[tuple[str, str]]:
    articles = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            item = json.loads(line)
            articles.append((html_to_text(item["title"]), html_to_text(item["summary"])))
            if limit and len(articles) >= limit:
                break
    return articles


def timed(matcher: Matcher, articles: list[tuple[str, str]]) -> tuple[float, int]:
    """CPU time of this process (other load on a shared machine does not count)."""
    start = time.process_time()
    found = sum(len(matcher.match(title, summary)) for title, summary in articles)
    return time.process_time() - start, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("noise", nargs="?", type=Path, default=NOISE_CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N articles")
    parser.add_argument("--rounds", type=int, default=3, help="best of R runs (default 3)")
    args = parser.parse_args()
    articles = load_articles(require(args.noise), args.limit)
    pack = builtin_dir("signals")
    seed = load_signals([pack / name for name in SEED_FILES], builtin=pack)
    rng = random.Random(4)
    with tempfile.TemporaryDirectory() as folder:
        for n in range(97):
            (Path(folder) / f"synthetic-{n:03d}.yaml").write_text(synthetic_signal(n, rng))
        grown = seed + load_signals([Path(folder)], builtin=pack)
    few, many = Matcher(seed), Matcher(grown)
    t_few = t_many = float("inf")
    for _ in range(args.rounds):  # interleaved, best of each
        t, n_few = timed(few, articles)
        t_few = min(t_few, t)
        t, n_many = timed(many, articles)
        t_many = min(t_many, t)
    print(f"articles: {len(articles)}")
    print(f"{len(seed):3d} signals: {t_few:7.3f} s CPU  ({n_few} observations)")
    print(f"{len(grown):3d} signals: {t_many:7.3f} s CPU  ({n_many} observations)")
    ratio = t_many / t_few
    print(f"ratio: {ratio:.2f} (target: at most 2)")
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
