"""Hostile text from feed bytes to the terminal: parsing, matching and rendering never
raise on what a feed can hold, and what reaches the terminal carries no control or
bidi character (nor a lone surrogate, which no terminal encoding can write).

The text is arbitrary Unicode with the characters feeds have been seen to abuse
mixed in (C0/C1 controls, ESC sequences, U+0085, U+2028, bidi overrides, lone
surrogates, numeric references to no character, CDATA ends), in XML that is
escaped or raw and bytes that are valid UTF-8 or not; one test takes 1 MB titles.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from functools import cache
from xml.sax.saxutils import escape

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allywatch.alerts.digest import Composer, SignalText, Unsubscribe
from allywatch.language.loader import load_signals
from allywatch.output import echo, echo_table, terminal_safe
from allywatch.resources import builtin_dir
from allywatch.store.models import Alert
from allywatch.watchers.matcher import Matcher
from allywatch.watchers.parse import MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, FeedParseError, parse_feed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE = [
    "\x00", "\x07", "\x1b[2J", "\x1b]0;owned\x07", "\x1b]52;c;aGk=\x07", "\x7f", "\x85", "\x9b",
    "\u2028", "\u2029", "\u202e", "\u2066", "\u200b", "\ufeff", "\ud800", "\udfff", "\r\n", "\t",
    "&", "<", ">", "]]>", "<![CDATA[", "&#xD800;", "&#0;", "&#x110000;", "&#99999999999;",
    "&amp;#x1b;", "<b>", "</title>", "<script>alert(1)</script>",
    "Su-35", "Iran", "delivered", "has not", "Тегеран",
]  # fmt: skip
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

hostile_text = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(HOSTILE)), max_size=16).map(
    "".join
)


@cache
def matcher() -> Matcher:
    return Matcher(load_signals([], builtin=builtin_dir("signals")))


def feed(items: list[tuple[str, str]], escaped: bool) -> bytes:
    """An RSS document of (title, summary) items, the text escaped for XML or raw; lone
    surrogates are written as the invalid UTF-8 they would be."""
    text = escape if escaped else str
    body = "".join(
        f"<item><title>{text(title)}</title><description>{text(summary)}</description>"
        f"<link>https://news.example.com/{n}</link></item>"
        for n, (title, summary) in enumerate(items)
    )
    document = f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'
    return document.encode("utf-8", "surrogatepass")


def assert_terminal_safe(shown: str) -> None:
    for ch in shown:
        assert ch in "\t\n" or unicodedata.category(ch) not in ("Cc", "Cs"), repr(ch)
        assert ch not in BIDI, repr(ch)


def shown_on_a_terminal(text: str) -> str:
    """What `echo` and a table print for `text`, as the terminal would receive it."""

    @click.command()
    def show() -> None:
        echo(text)
        echo_table(["TITLE", "OUTLET"], [[text, text[:20]]], shorten=["TITLE"])

    result = CliRunner().invoke(show, [], env={"COLUMNS": "80"})
    assert result.exception is None, result.exception
    return result.stdout


def digest_of(title: str) -> tuple[str, str]:
    """The digest's text and HTML for one alert whose evidence is an item titled `title`."""
    alert = Alert(
        id=1, kind="transition", signal="su35-iran", entity="", from_state="none",
        to_state="delivered", severity="warning", at=NOW, message=title,
        evidence=[{"title": title, "outlet": title[:30], "link": title, "published": "x"}],
    )  # fmt: skip
    composer = Composer(
        builtin_dir("templates"), {"su35-iran": SignalText("Su-35/Iran", "?")}, "w@example.org"
    )
    digest = composer.compose(
        subscriber_id=1, recipient="a@example.org", alerts=[alert], feed_problems=[],
        feeds_total=1, unsubscribe=Unsubscribe("token", None), timezone="UTC", now=NOW,
    )  # fmt: skip
    return digest.text, digest.html


def read(body: bytes) -> list:
    """The feed's articles, each checked, matched and shown; a FeedParseError is a fair
    answer to a broken feed, any other exception is a failure."""
    try:
        articles = parse_feed(body, {}, "Fuzz", "https://fuzz.example/feed.xml", NOW)
    except FeedParseError:
        return []
    for article in articles:
        assert len(article.title) <= MAX_TITLE_CHARS
        assert len(article.summary) <= MAX_SUMMARY_CHARS
        assert "\x00" not in article.title + article.summary
        article.title.encode("utf-8")  # storable: no lone surrogate survives parsing
        matcher().match(article.title, article.summary)
        assert_terminal_safe(shown_on_a_terminal(article.title))
    return articles


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(st.tuples(hostile_text, hostile_text), min_size=1, max_size=4),
    escaped=st.booleans(),
    junk=st.binary(max_size=40),
    at=st.integers(min_value=0),
)
def test_hostile_feed_bytes_go_through_parse_match_and_display(
    items: list[tuple[str, str]], escaped: bool, junk: bytes, at: int
) -> None:
    body = feed(items, escaped)
    read(body)
    cut = at % (len(body) + 1)  # the same document with junk bytes spliced in
    read(body[:cut] + junk + body[cut:])


@settings(max_examples=60, deadline=None)
@given(title=hostile_text, summary=hostile_text)
def test_hostile_text_is_matched_and_shown_safely(title: str, summary: str) -> None:
    matcher().match(title, summary)
    assert_terminal_safe(terminal_safe(title))
    assert_terminal_safe(shown_on_a_terminal(title))
    text, html = digest_of(title)
    assert_terminal_safe(text.replace("\r", ""))
    assert "<script>" not in html  # feed text is escaped in the HTML digest


@pytest.mark.slow
@settings(max_examples=5, deadline=None)
@given(piece=hostile_text.filter(bool))
def test_a_one_megabyte_title_is_cut_matched_and_shown(piece: str) -> None:
    title = (piece * (1_000_000 // len(piece) + 1))[:1_000_000]
    articles = read(feed([(title, title)], escaped=True))
    assert all(len(a.title) <= MAX_TITLE_CHARS for a in articles)
    matcher().match(title, "")
    assert_terminal_safe(terminal_safe(title))
