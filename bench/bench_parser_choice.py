"""Which parser parse_feed stands on: feedparser, fastfeedparser, or the lxml reader.

Three ways for `watchers.parse.parse_feed` to read a feed document:

  feedparser                 feedparser alone (parse_feed before fast_parse.py);
  fastfeedparser             fastfeedparser 0.6 (lxml plus a native extractor);
  lxml reader + feedparser   parse_feed now: watchers.fast_parse reads plain,
                             well-formed UTF-8 RSS 2.0 with lxml and declines
                             the rest, which feedparser reads.

They are compared two ways, on the same bytes:

1. Agreement with feedparser. The Article records each gives are compared with
   feedparser's field by field (uid, link, title, summary, published,
   published_estimated, outlet): on a set of realistic and ill-formed feeds (the
   mess tests/test_parse.py covers: entities, CDATA, charsets, relative links,
   odd dates, a truncated feed; RSS 1.0, Atom with xml:base, Google News items
   with <source>, inline markup; the broken and hostile feeds of
   tests/test_bad_feeds.py) and on the evaluation corpus rendered as 200 RSS 2.0
   files and as 200 Atom files (the same 20,000 items, see bench_parse.py). A
   feed one reads and the other refuses is a feed whose outcome differs.

2. CPU, on the corpus files. Each file is read, in turn, by
     A. feedparser.parse with parse_feed's options (no sanitising),
     B. fastfeedparser.parse (tags, media and enclosures off: parse_feed reads none),
     C. watchers.fast_parse.read_plain_rss alone,
     D-F. parse_feed (reading + normalising into Articles) on each of the three;
   for `--rounds` rounds; CPU seconds and the ratios between steps (taken
   within a round) are given as min / median over the rounds.

parse_feed on fastfeedparser is parse_feed with the `feedparser` name in
watchers.parse bound to a shim that parses with fastfeedparser and hands back
feedparser's shape (summary, content, link, id, the *_parsed dates as UTC time
tuples, version, bozo), so that everything else (headers, links, uids,
outlets, dates, HTML to text) is the very code a cycle runs. A fastfeedparser
exception is a parser failure, as a feedparser one is.

    .venv/bin/python bench/bench_parser_choice.py [--corpus PATH] [--rounds N] [--examples N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import feedparser
from bench_parse import HEADERS, build_feeds, feed_url, load_items
from outside_data import NOISE_CORPUS

try:  # not a dependency of allywatch: this benchmark is what decides whether it becomes one
    import fastfeedparser
except ImportError:
    print("bench_parser_choice.py: skipped: needs fastfeedparser (pip install fastfeedparser)")
    sys.exit(0)

from allywatch.language.records import Article
from allywatch.watchers import parse as parse_module
from allywatch.watchers.fast_parse import read_plain_rss
from allywatch.watchers.parse import FeedParseError, parse_feed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_bad_feeds import corpus as bad_feed_corpus  # noqa: E402

FIELDS = ("uid", "link", "title", "summary", "published", "published_estimated", "outlet")
ATOM_HEADERS = {"content-type": "application/atom+xml; charset=utf-8"}
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
FEEDPARSER_OPTIONS = {"sanitize_html": False, "resolve_relative_uris": False}
FAST_OPTIONS = {"include_tags": False, "include_media": False, "include_enclosures": False}
STEPS = {
    "A": "feedparser.parse, parse_feed's options",
    "B": "fastfeedparser.parse",
    "C": "read_plain_rss alone (lxml)",
    "D": "parse_feed on feedparser alone (before)",
    "E": "parse_feed on fastfeedparser",
    "F": "parse_feed now (lxml reader, else feedparser)",
}


# --- fastfeedparser in feedparser's shape --------------------------------------------


class _FastFeedparserShim(SimpleNamespace):
    """What watchers.parse uses of the feedparser module, answered by fastfeedparser."""

    ThingsNobodyCaresAboutButMe = feedparser.ThingsNobodyCaresAboutButMe

    @staticmethod
    def parse(stream: io.BytesIO, **_options: Any) -> feedparser.FeedParserDict:
        try:
            parsed = fastfeedparser.parse(stream.read(), **FAST_OPTIONS)
        except ValueError as exc:  # fastfeedparser's "not a feed"/"cannot parse": no entries
            return feedparser.FeedParserDict(
                entries=[], feed=feedparser.FeedParserDict(), bozo=1, bozo_exception=exc
            )
        feed = feedparser.FeedParserDict(link=parsed["feed"].get("link") or "")
        return feedparser.FeedParserDict(
            entries=[_entry(entry) for entry in parsed["entries"]],
            feed=feed,
            version="fastfeedparser",
            bozo=0,
        )


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A fastfeedparser entry as the feedparser entry parse_feed reads."""
    shaped: dict[str, Any] = {
        "title": entry.get("title"),
        "summary": entry.get("description"),
        "content": entry.get("content") or [],
        "link": entry.get("link"),
        "id": entry.get("id"),
    }
    for name in ("published", "updated"):
        if entry.get(name):
            when = datetime.fromisoformat(entry[name]).astimezone(UTC)
            shaped[f"{name}_parsed"] = when.timetuple()
    return shaped


def _declines(_body: bytes, _headers: object) -> None:
    return None


@contextmanager
def underneath(parser: str) -> Iterator[None]:
    """parse_feed reading with `parser` (one of PARSERS) while the block runs."""
    if parser != "lxml reader + feedparser":
        parse_module.read_plain_rss = _declines
    if parser == "fastfeedparser":
        parse_module.feedparser = _FastFeedparserShim()  # type: ignore[assignment]
    try:
        yield
    finally:
        parse_module.read_plain_rss = read_plain_rss
        parse_module.feedparser = feedparser


PARSERS = ("feedparser", "fastfeedparser", "lxml reader + feedparser")


# --- the feeds -----------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    name: str
    body: bytes
    headers: dict[str, str]
    location: str


def corpus_feeds(items: list[dict]) -> list[Feed]:
    """The corpus as 200 RSS 2.0 and 200 Atom files."""
    rss = [Feed(f"rss{n}", b, HEADERS, feed_url(n)) for n, b in enumerate(build_feeds(items))]
    per_feed = -(-len(items) // len(rss))
    atom = [
        Feed(
            f"atom{n}",
            _atom_document(n, items[n * per_feed : (n + 1) * per_feed]),
            ATOM_HEADERS,
            f"https://feeds.example.org/{n}/atom.xml",
        )
        for n in range(len(rss))
    ]
    return rss + atom


def _atom_document(n: int, items: list[dict]) -> bytes:
    entries = "".join(
        f"<entry><id>{escape(item['id'])}</id><title>{escape(item['title'])}</title>"
        f'<link rel="alternate" href={quoteattr(item["link"])}/>'
        f"<updated>{datetime.fromisoformat(item['published']).isoformat()}</updated>"
        f'<summary type="html">{escape(item["summary"])}</summary></entry>'
        for item in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Feed {n}</title><id>urn:feed:{n}</id><updated>2022-12-31T00:00:00Z</updated>"
        f'<link href="https://feeds.example.org/{n}/"/>{entries}</feed>\n'
    ).encode()


def _rss(*items: str, head: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        f'{head}<rss version="2.0"><channel><title>World</title>'
        f"<link>https://www.example.org/</link>{body}</channel></rss>"
    ).encode()


RSS = {"content-type": "application/rss+xml; charset=utf-8"}
HERE = "https://feeds.example.org/world/rss.xml"
GOOGLE = "https://news.google.com/rss/search?q=x"


def realistic_feeds() -> list[Feed]:
    """Feeds shaped like real ones, each with one kind of mess a parser must get right."""
    cyrillic = (
        '<rss version="2.0"><channel><title>Новости</title><item><title>Поставка Су-35'
        " в Иран</title><link>https://example.ru/1</link></item></channel></rss>"
    )
    cases = {
        "plain": _rss(
            "<title>Iran takes delivery of Su-35 jets</title>"
            "<link>https://www.example.org/news/su35?utm_source=rss&amp;id=7</link>"
            "<description>&lt;p&gt;State TV &lt;b&gt;says&lt;/b&gt; so.&lt;/p&gt;</description>"
            "<pubDate>Tue, 30 Apr 2024 09:15:00 +0300</pubDate>"
            '<guid isPermaLink="false">urn:example:su35-1</guid>'
        ),
        "cdata-entities": _rss(
            "<title>Talks &amp; &#8220;progress&#8221; on gas</title>"
            "<link>https://example.org/a</link><description><![CDATA[<div>Moscow &amp; "
            "Beijing <i>agree</i>&nbsp;terms<script>alert(1)</script></div>]]></description>"
        ),
        "double-escaped": _rss(
            "<title>Iran&amp;#8217;s jets &amp;amp; Russia&amp;#39;s deal</title>"
            "<link>https://example.org/a</link>"
        ),
        "no-guid": _rss(
            "<title>Wire story</title><link>https://example.org/w?utm_campaign=x</link>"
        ),
        "numeric-guid": _rss(
            '<title>A</title><link>https://example.org/a</link><guid isPermaLink="false">'
            "20240501</guid>"
        ),
        "guid-is-link": _rss("<title>Only a guid</title><guid>https://example.org/g/1</guid>"),
        "relative-links": _rss(
            "<title>One</title><link>/news/1</link>", "<title>Two</title><link>s-2.html</link>"
        ),
        "odd-dates": _rss(
            "<title>Future</title><link>https://e.org/2</link>"
            "<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate>",
            "<title>Garbled</title><link>https://e.org/3</link><pubDate>yesterday-ish</pubDate>",
            "<title>No zone</title><link>https://e.org/4</link>"
            "<pubDate>Tue, 30 Apr 2024 09:15:00</pubDate>",
            "<title>Named zone</title><link>https://e.org/5</link>"
            "<pubDate>Tue, 30 Apr 2024 09:15:00 EDT</pubDate>",
            "<title>ISO in RSS</title><link>https://e.org/6</link>"
            "<pubDate>2024-04-30T09:15:00+05:30</pubDate>",
            "<title>Only dc:date</title><link>https://e.org/7</link>"
            '<dc:date xmlns:dc="http://purl.org/dc/elements/1.1/">2024-04-29T08:00:00Z</dc:date>',
        ),
        "nbsp-entity": _rss("<title>First &nbsp; story</title><link>https://e.org/1</link>"),
        "inline-markup": _rss(
            "<title>Second <b>story</b> here</title><link>https://e.org/2</link>"
            "<description>Lead <p>paragraph</p> tail</description>"
        ),
        "content-encoded": _rss(
            "<title>Long read</title><link>https://e.org/l</link>"
            '<content:encoded xmlns:content="http://purl.org/rss/1.0/modules/content/">'
            "<![CDATA[<p>The whole <b>article</b>.</p>]]></content:encoded>"
        ),
        "cp1251-declared": ('<?xml version="1.0" encoding="windows-1251"?>' + cyrillic).encode(
            "cp1251"
        ),
        "cp1251-http-charset": cyrillic.encode("cp1251"),
        "utf16-bom": (
            '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>T'
            "</title><item><title>Kazakhstan — Қазақстан</title><link>https://example.kz/1"
            "</link></item></channel></rss>"
        ).encode("utf-16"),
        "truncated": (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            b"<item><title>First &nbsp; story</title><link>https://example.org/1</link></item>"
            b"<item><title>Second <b>story</title><link>https://example.org/2</link></item>"
            b"<item><title>Thi"
        ),
        "rdf": (
            b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-'
            b'ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            b'<channel rdf:about="https://rdf.example/"><title>R</title><link>https://rdf.example/'
            b'</link></channel><item rdf:about="https://rdf.example/1"><title>RDF item</title>'
            b"<link>https://rdf.example/1</link><description>Said &amp; done</description>"
            b"<dc:date>2024-04-30T10:00:00+03:00</dc:date></item></rdf:RDF>"
        ),
        "atom-xml-base": b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://site.example/news/">
  <title>Site</title>
  <entry><id>tag:site.example,2024:1</id>
    <title type="html">&lt;b&gt;Pipeline&lt;/b&gt; deal signed</title>
    <link rel="alternate" href="pos2/deal"/><updated>2024-04-30T10:00:00+03:00</updated>
    <content type="html">&lt;p&gt;Gazprom and CNPC sign&lt;/p&gt;</content></entry>
</feed>""",
        "atom-no-id-xhtml": b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Site</title>
  <entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Talks <b>resume</b></div>
  </title><link href="https://site.example/t"/><published>2024-04-29T10:00:00Z</published>
  <updated>2024-04-30T10:00:00Z</updated><summary>Short</summary></entry>
</feed>""",
        "google-news-source": _rss(
            "<title>Iran receives Su-35 jets - Reuters</title>"
            "<link>https://news.google.com/rss/articles/CBMiAU_yqLN0aGlzIGlzIG5vdA?oc=5</link>"
            '<guid isPermaLink="false">CBMiAU_yqLN0aGlzIGlzIG5vdA</guid>'
            '<source url="https://www.reuters.com">Reuters</source>'
        ),
    }
    locations = {"google-news-source": GOOGLE}
    headers = {"cp1251-declared": {}, "utf16-bom": {"content-type": "application/xml"}}
    headers["cp1251-http-charset"] = {"content-type": "text/xml; charset=windows-1251"}
    return [
        Feed(name, body, headers.get(name, RSS), locations.get(name, HERE))
        for name, body in cases.items()
    ]


def bad_feeds() -> list[Feed]:
    """tests/test_bad_feeds.py's broken and hostile feeds (its secret file is a temporary one)."""
    with tempfile.TemporaryDirectory() as folder:
        secret = Path(folder) / "secret.txt"
        secret.write_text("TOP-SECRET", encoding="utf-8")
        replies = bad_feed_corpus(secret)
        return [
            Feed(f"bad:{name}", reply.body, reply.headers, f"https://bad.example/{name}.xml")
            for name, (reply, _fate) in replies.items()
            if "Content-Encoding" not in reply.headers  # the fetcher's business, not the parser's
        ]


# --- measuring -----------------------------------------------------------------------


def read(feed: Feed) -> list[Article] | str:
    """parse_feed's articles, or the kind of refusal (an error is a fair answer to a bad feed)."""
    try:
        return parse_feed(feed.body, feed.headers, feed.name, feed.location, NOW)
    except FeedParseError as exc:
        return f"FeedParseError: {str(exc).split(': ', 1)[1][:70]}"


@dataclass
class Agreement:
    feeds: int
    records: int = 0
    outcome_differs: int = 0
    field_differs: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)


def compare(feeds: list[Feed], candidate: str, examples: int) -> Agreement:
    """Articles from feedparser alone and from `candidate`, feed by feed, record by record."""
    with underneath(candidate):
        theirs_all = [read(feed) for feed in feeds]
    with underneath("feedparser"):
        ours_all = [read(feed) for feed in feeds]
    found = Agreement(feeds=len(feeds))
    for feed, theirs, ours in zip(feeds, theirs_all, ours_all, strict=True):
        if isinstance(ours, str) or isinstance(theirs, str) or len(ours) != len(theirs):
            if _outcome(ours) != _outcome(theirs):
                found.outcome_differs += 1
                found.examples.append(
                    f"{feed.name}: feedparser {_outcome(ours)}; {candidate} {_outcome(theirs)}"
                )
            continue
        found.records += len(ours)
        for mine, other in zip(ours, theirs, strict=True):
            for name in FIELDS:
                if getattr(mine, name) != getattr(other, name):
                    found.field_differs[name] += 1
                    if sum(1 for e in found.examples if f" {name}:" in e) < examples:
                        found.examples.append(
                            f"{feed.name} {name}: feedparser {getattr(mine, name)!r:.90}"
                            f" / {candidate} {getattr(other, name)!r:.90}"
                        )
    return found


def _outcome(result: list[Article] | str) -> str:
    if isinstance(result, str):
        return result
    return f"{len(result)} articles {[a.title[:30] for a in result][:3]}"


def time_round(feeds: list[Feed]) -> dict[str, float]:
    """CPU seconds of each step in STEPS over `feeds` in one round; the steps take turns
    on each file, so that a change in the machine's load cannot favour one of them."""

    def parse_feed_on(parser: str) -> Callable[[Feed], object]:
        def step(feed: Feed) -> object:
            with underneath(parser):
                return parse_feed(feed.body, feed.headers, feed.name, feed.location, NOW)

        return step

    steps: dict[str, Callable[[Feed], object]] = {
        "A": lambda f: feedparser.parse(
            io.BytesIO(f.body), response_headers=f.headers, **FEEDPARSER_OPTIONS
        ),
        "B": lambda f: fastfeedparser.parse(f.body, **FAST_OPTIONS),
        "C": lambda f: read_plain_rss(f.body, f.headers),
        "D": parse_feed_on("feedparser"),
        "E": parse_feed_on("fastfeedparser"),
        "F": parse_feed_on("lxml reader + feedparser"),
    }
    totals = dict.fromkeys(steps, 0.0)
    for feed in feeds:
        for label, step in steps.items():
            started = time.process_time()
            step(feed)
            totals[label] += time.process_time() - started
    return totals


def report_agreement(title: str, found: Agreement) -> None:
    print(f"\n{title}: {found.feeds} feeds, {found.outcome_differs} with a different outcome;")
    print(f"  {found.records} records compared, differing per field:")
    for name in FIELDS:
        print(f"    {name:20} {found.field_differs[name]:6}")
    for example in found.examples:
        print(f"  - {example}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=NOISE_CORPUS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--examples", type=int, default=2, help="examples shown per field")
    args = parser.parse_args()

    samples = realistic_feeds() + bad_feeds()
    feeds = corpus_feeds(load_items(args.corpus))  # exits 0, saying why, without the corpus
    entries = sum(f.body.count(b"<item>") + f.body.count(b"<entry>") for f in feeds)
    for title, chosen in (("Realistic and ill-formed feeds", samples), ("Corpus", feeds)):
        read_by_lxml = [f.name for f in chosen if read_plain_rss(f.body, _lowered(f)) is not None]
        print(
            f"\n{title}: the lxml reader takes {len(read_by_lxml)} of {len(chosen)} feeds", end=""
        )
        print(f" ({', '.join(read_by_lxml)})" if chosen is samples else "")
        for candidate in PARSERS[1:]:
            report_agreement(f"{title}, {candidate}", compare(chosen, candidate, args.examples))

    print(f"\nCPU seconds over {entries} entries, min / median of {args.rounds} rounds:")
    for kind in ("rss", "atom"):
        rounds = [
            time_round([f for f in feeds if f.name.startswith(kind)]) for _ in range(args.rounds)
        ]
        print(f"  {kind} files:")
        for label, what in STEPS.items():
            print(f"    {label}. {what:47} {_min_median([r[label] for r in rounds])} s")
        for label, of in (("B", "A"), ("C", "A"), ("E", "D"), ("F", "D")):
            ratios = [r[label] / r[of] for r in rounds]
            print(f"    {label} / {of}  {_min_median(ratios, '.3f')}")


def _lowered(feed: Feed) -> dict[str, str]:
    """The headers as parse_feed hands them to the reader."""
    return {"content-type": "application/xml"} | {k.lower(): v for k, v in feed.headers.items()}


def _min_median(values: list[float], form: str = ".2f") -> str:
    return f"{min(values):{form}} / {statistics.median(values):{form}}"


if __name__ == "__main__":
    main()
