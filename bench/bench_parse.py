"""Parse-and-normalise throughput against feedparser alone, and story-grouping cost.

Builds 200 RSS files holding the 20,000 real items of the evaluation corpus
(titles and summaries verbatim, HTML included), then times, on the same bytes:

  A. feedparser.parse with its default options ("feedparser alone"),
  B. feedparser.parse with the options parse_feed uses (no HTML sanitising or
     URI rewriting: parse_feed reduces all markup to plain text itself),
  C. watchers.parse.parse_feed (reading, with lxml for plain RSS such as these
     files and feedparser otherwise, + normalising into Articles),
  D. StoryGrouper.add over the resulting articles,
  E. StoryGrouper.restore of the same articles with their story keys (what a
     cycle does to rebuild the grouper from stored rows).

Times are CPU seconds of this process, which a shared, busy machine disturbs
less than wall time. A, B and C take turns on each file, `--repeats` times, and
each file's best time is kept: a change in the machine's load then cannot
favour one of them. D and E keep their best of `--repeats` runs. Peak memory
(VmHWM) is measured in a fresh process that parses all files and keeps every
article, then groups them. Storing articles is not part of this benchmark.

    .venv/bin/python bench/bench_parse.py [--corpus PATH] [--repeats N]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
from outside_data import NOISE_CORPUS, require

from allywatch.watchers.dedup import StoryGrouper
from allywatch.watchers.parse import parse_feed

FEEDS = 200
HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}


def load_items(corpus: Path) -> list[dict]:
    """The corpus's items; a missing corpus ends the benchmark (see outside_data)."""
    with gzip.open(require(corpus), "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def build_feeds(items: list[dict], feeds: int = FEEDS) -> list[bytes]:
    """`feeds` RSS 2.0 documents sharing out `items` evenly."""
    per_feed = -(-len(items) // feeds)
    documents = []
    for n in range(feeds):
        chunk = items[n * per_feed : (n + 1) * per_feed]
        entries = "".join(_item_xml(item) for item in chunk)
        documents.append(
            (
                '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
                f"<title>Feed {n}</title><link>https://feeds.example.org/{n}/</link>"
                f"<description>Benchmark feed {n}</description>{entries}</channel></rss>\n"
            ).encode()
        )
    return documents


def _item_xml(item: dict) -> str:
    published = datetime.fromisoformat(item["published"]).astimezone(UTC)
    return (
        f"<item><title>{escape(item['title'])}</title><link>{escape(item['link'])}</link>"
        f"<description>{escape(item['summary'])}</description>"
        f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
        f'<guid isPermaLink="false">{escape(item["id"])}</guid></item>'
    )


def feed_url(n: int) -> str:
    return f"https://feeds.example.org/{n}/rss.xml"


def parse_all(documents: list[bytes], now: datetime) -> list:
    articles = []
    for n, body in enumerate(documents):
        articles.extend(parse_feed(body, HEADERS, f"Feed {n}", feed_url(n), now))
    return articles


def time_parsers(documents: list[bytes], now: datetime, repeats: int) -> dict[str, float]:
    """CPU seconds of A, B and C over all documents.

    Each document is parsed by A, B and C in turn, `repeats` times; its time is
    the minimum over the repeats. Interleaving per document keeps a change in
    the machine's load from favouring one of the three.
    """
    plain = {"sanitize_html": False, "resolve_relative_uris": False}
    steps = {
        "A": lambda n, body: feedparser.parse(io.BytesIO(body), response_headers=_headers(n)),
        "B": lambda n, body: feedparser.parse(
            io.BytesIO(body), response_headers=_headers(n), **plain
        ),
        "C": lambda n, body: parse_feed(body, HEADERS, f"Feed {n}", feed_url(n), now),
    }
    totals = dict.fromkeys(steps, 0.0)
    for n, body in enumerate(documents):
        for label, step in steps.items():
            fastest = float("inf")
            for _ in range(repeats):
                started = time.process_time()
                step(n, body)
                fastest = min(fastest, time.process_time() - started)
            totals[label] += fastest
    return totals


def _headers(n: int) -> dict[str, str]:
    return {**HEADERS, "content-location": feed_url(n)}


def time_grouping(articles: list) -> tuple[float, float, int]:
    """CPU seconds to group `articles`, then to restore them with their keys; story count."""
    grouper = StoryGrouper()
    started = time.process_time()
    stories = [grouper.add(a.uid, a.title, a.summary) for a in articles]
    grouping = time.process_time() - started
    rebuilt = StoryGrouper()
    started = time.process_time()
    for article, story in zip(articles, stories, strict=True):
        rebuilt.restore(article.uid, article.title, article.summary, story)
    return grouping, time.process_time() - started, len(set(stories))


def peak_memory_child(folder: str) -> None:
    """Parse every file in `folder` keeping every article, then group them; print peak RSS."""
    documents = [p.read_bytes() for p in sorted(Path(folder).glob("*.xml"))]
    articles = parse_all(documents, datetime.now(UTC))
    after_parse = _peak_rss_mb()
    grouper = StoryGrouper()
    for article in articles:
        grouper.add(article.uid, article.title, article.summary)
    print(
        json.dumps({"articles": len(articles), "parse_mb": after_parse, "group_mb": _peak_rss_mb()})
    )


def _peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: the latter survives exec and would count the parent's peak.
    status = Path("/proc/self/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=NOISE_CORPUS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        peak_memory_child(args.memory_child)
        return

    items = load_items(args.corpus)
    documents = build_feeds(items)
    total_mb = sum(map(len, documents)) / 1e6
    print(f"{len(items)} items in {len(documents)} RSS files, {total_mb:.1f} MB")
    now = datetime.now(UTC)

    best = time_parsers(documents, now, args.repeats)
    articles = parse_all(documents, now)
    best["D"] = best["E"] = float("inf")
    for _ in range(args.repeats):
        grouping, restoring, stories = time_grouping(articles)
        best["D"] = min(best["D"], grouping)
        best["E"] = min(best["E"], restoring)

    with tempfile.TemporaryDirectory() as folder:
        for n, body in enumerate(documents):
            (Path(folder) / f"feed{n:03d}.xml").write_bytes(body)
        child = subprocess.run(
            [sys.executable, __file__, "--memory-child", folder],
            capture_output=True,
            text=True,
            check=True,
        )
    memory = json.loads(child.stdout)

    print(
        f"CPU seconds (A-C: per file, best of {args.repeats}, summed; D-E: best of"
        f" {args.repeats}); {len(articles)} articles"
    )
    print(f"A feedparser alone (default options): {best['A']:6.2f} s")
    print(f"B feedparser, parse_feed's options:   {best['B']:6.2f} s")
    print(f"C parse_feed (parse + normalise):     {best['C']:6.2f} s")
    print(f"  C / A = {best['C'] / best['A']:.2f}x   C / B = {best['C'] / best['B']:.2f}x")
    print(f"  throughput {len(articles) / best['C']:,.0f} articles/s")
    print(
        f"D StoryGrouper.add over the articles: {best['D']:6.2f} s "
        f"({best['D'] / len(articles) * 1e6:.0f} us/article, {stories} stories), "
        f"{best['D'] / best['C']:.0%} of C"
    )
    print(
        f"E StoryGrouper.restore (rebuild from stored keys): {best['E']:6.2f} s"
        f" ({best['E'] / len(articles) * 1e6:.0f} us/article)"
    )
    print(
        f"peak RSS, fresh process: {memory['parse_mb']:.0f} MB after parsing all"
        f" {memory['articles']} articles and keeping them, {memory['group_mb']:.0f} MB after"
        " grouping them too"
    )


if __name__ == "__main__":
    main()
