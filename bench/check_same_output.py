"""Do two trees normalise, link, fingerprint, match and parse the corpus alike, item by item?

Speeding up a per-article step must not change what it gives: a changed text
moves evidence offsets, a changed link or uid stores an article twice, a
changed fingerprint regroups stories. This runs the same steps in two trees,
a baseline (an exported older commit: `git archive REV | tar -x -C DIR`) and
--tree (by default this one), each in a process of its own with PYTHONPATH
set to its tree, over every item of the evaluation corpus
(/work/shared/eval/noise2022.jsonl.gz, 20,000 items; see outside_data.py), and
compares the outputs item by item:

  html_to_text      of every title and summary as the feed gives them,
  canonical_link    and its outlet, of every link,
  parse_feed        the Article records of the corpus served as 200 RSS files
                    (bench_parse.py's), uids and times included,
  fingerprint       of every parsed article (word ids, numbers, shingles, band keys),
  matcher           observations and near-misses of every parsed article, with the
                    built-in signals; and of the labelled items of dev.jsonl and
                    dev_real.jsonl beside the corpus (most noise evidences nothing),
  cycle             a cold `run_cycle` over those 200 files as local sources on a new
                    SQLite file at a fixed time: every stored article, observation,
                    near-miss, state and transition, story keys included.

It prints each step's item count, how many differ (with the first few) and the
CPU seconds each tree spent on it; it exits 1 when anything differs.

    .venv/bin/python bench/check_same_output.py --baseline DIR [--tree DIR] [--corpus PATH]

Two exports of one commit, one with the files under test taken from an older
commit, compare those files alone (the signal pack's digest is in every state).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}


def outputs(corpus: Path) -> dict[str, tuple[float, list[str]]]:
    """Each step's CPU seconds and its outputs, one printable line per item
    (run in the tree on sys.path)."""
    sys.path.insert(0, str(HERE))
    from bench_parse import build_feeds, load_items

    from allywatch.language.loader import load_signals
    from allywatch.resources import builtin_dir
    from allywatch.watchers.dedup import fingerprint
    from allywatch.watchers.links import canonical_link_and_outlet
    from allywatch.watchers.matcher import Matcher
    from allywatch.watchers.parse import parse_feed
    from allywatch.watchers.text import html_to_text

    items = load_items(corpus)
    texts = [value for item in items for value in (item["title"], item["summary"])]
    links = [item["link"] for item in items]
    documents = build_feeds(items)
    result: dict[str, tuple[float, list[str]]] = {}

    def step(name: str, run: Callable[[], list[Any]]) -> list[Any]:
        started = time.process_time()
        values = run()
        result[name] = (time.process_time() - started, [repr(v) for v in values])
        return values

    step("html_to_text", lambda: [html_to_text(t) for t in texts])
    step("canonical_link", lambda: [canonical_link_and_outlet(u) for u in links])
    articles = step(
        "parse_feed",
        lambda: [
            article
            for n, body in enumerate(documents)
            for article in parse_feed(body, HEADERS, f"Feed {n}", _feed_url(n), NOW)
        ],
    )
    step(
        "fingerprint",
        lambda: [_fingerprint_fields(fingerprint(a.title, a.summary)) for a in articles],
    )
    matcher = Matcher(load_signals([builtin_dir("signals")], builtin=builtin_dir("signals")))
    step("matcher", lambda: [matcher.read(a.title, a.summary) for a in articles])
    labelled = [
        (html_to_text(item["title"]), html_to_text(item["summary"] or ""))
        for name in LABELLED
        if (corpus.parent / name).exists()
        for item in map(json.loads, (corpus.parent / name).read_text().splitlines())
    ]
    step("matcher, labelled sets", lambda: [matcher.read(t, s) for t, s in labelled])
    step("cycle", lambda: _cold_cycle(documents))
    return result


def _cold_cycle(documents: list[bytes]) -> list[tuple[Any, ...]]:
    """The rows a cold cycle over `documents` (local files) stores, time-independent ones."""
    from allywatch.config import load_config
    from allywatch.cycle import run_cycle
    from allywatch.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources = []
        for n, body in enumerate(documents):
            (folder / f"feed{n:03d}.xml").write_bytes(body)
            sources.append(f"  - {{name: feed{n:03d}, path: feed{n:03d}.xml}}\n")
        config = folder / "allywatch.yaml"
        config.write_text("database: sqlite:///cycle.db\nsources:\n" + "".join(sources))
        workspace = Workspace(load_config(config))
        run_cycle(workspace, NOW, send=False)
        workspace.engine.dispose()
        with sqlite3.connect(folder / "cycle.db") as db:
            return [(table, *row) for table, query in STORED for row in db.execute(query)]


LABELLED = ("dev.jsonl", "dev_real.jsonl")
# What a cycle stores, without the columns that only say when the cycle ran.
STORED = (
    (
        "article",
        "SELECT id, uid, link, title, summary, published_at, source_name, outlet, story"
        " FROM articles ORDER BY id",
    ),
    (
        "observation",
        "SELECT article_id, signal, entity, state, polarity, hedged, evidence, published_at,"
        " outlet, story FROM observations ORDER BY id",
    ),
    ("near-miss", "SELECT article_id, signal, entity, words FROM review_items ORDER BY id"),
    ("state", "SELECT signal, entity, state, detail, occurrence FROM signal_states ORDER BY 1, 2"),
    (
        "transition",
        "SELECT signal, entity, from_state, to_state, at, evidence, occurrence"
        " FROM transitions ORDER BY id",
    ),
)


def _feed_url(n: int) -> str:
    return f"https://feeds.example.org/{n}.xml"


def _fingerprint_fields(print_: Any) -> Any:
    if print_ is None:
        return None
    fields = ("title_words", "numbers", "shingles", "text_keys", "title_keys")
    return tuple(
        sorted(v) if isinstance(v, frozenset) else list(v)
        for v in (getattr(print_, name) for name in fields)
    )


def run_tree(tree: Path, corpus: Path, out: Path) -> dict[str, tuple[float, list[str]]]:
    env = {**os.environ, "PYTHONPATH": str(tree.resolve()), "PYTHONHASHSEED": "0"}
    command = [sys.executable, __file__, "--child", str(corpus), str(out)]
    subprocess.run(command, env=env, check=True, cwd=tree)
    with out.open("rb") as handle:
        return pickle.load(handle)  # noqa: S301 - written by this script a moment ago


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="the older tree to compare with")
    parser.add_argument("--tree", type=Path, default=HERE.parent, help="the newer (this one)")
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with args.child[1].open("wb") as handle:
            pickle.dump(outputs(args.child[0]), handle)
        return
    if args.baseline is None:
        parser.error("--baseline DIR is needed")
    sys.path.insert(0, str(HERE))
    from outside_data import NOISE_CORPUS, require

    corpus = require(args.corpus or NOISE_CORPUS)
    with tempfile.TemporaryDirectory() as tmp:
        before = run_tree(args.baseline, corpus, Path(tmp) / "before.pickle")
        after = run_tree(args.tree, corpus, Path(tmp) / "after.pickle")
    differ = False
    for name, (cpu_before, old) in before.items():
        cpu_after, new = after[name]
        changed = [n for n, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        differ = differ or bool(changed) or len(old) != len(new)
        digest = hashlib.sha256("\n".join(new).encode()).hexdigest()[:12]
        print(
            f"{name}: {len(new)} items, {len(changed)} differ (outputs {digest});"
            f" CPU {cpu_before:.2f} s -> {cpu_after:.2f} s ({cpu_after / cpu_before:.2f}x)"
        )
        for n in changed[:3]:
            print(f"  item {n}:\n    before {old[n][:300]}\n    after  {new[n][:300]}")
    print(json.dumps({"same": not differ}))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
