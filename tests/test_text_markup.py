"""Simple markup is read without html.parser, and must give exactly what html.parser gives."""

from __future__ import annotations

import pytest

from allywatch.watchers.text import _parsed_markup_text, _simple_markup_text, html_to_text

SIMPLE = [
    "<p>Iran &amp; Russia</p><p>Second paragraph</p>",
    "Lead<br>line<br/>break<br />end",
    '<P CLASS="lead">Upper-case tags</P >',
    "<a href=\"https://example.org/?a=1&amp;b=2\" title='it&#39;s'>link</a> after",
    '<img src="x.jpg"/>caption<img alt="" src="y.jpg" />',
    "<div>\n  spaced\t\tout\r\n text </div>",
    "<ul><li>one</li><li>two</li></ul>",
    "<em>AT&amp;T</em> &nbsp;&mdash; &#8220;quoted&#8221; &unknown; &amp",
    "text &amp without a semicolon<b>bold</b> 5 > 3",
    "<span>\u00a0non-breaking\u00a0</span>\u200bzero width",
    "<h2>Title</h2><figure><figcaption>Cap</figcaption></figure>",
    '<a data-x:y.z="v" href="u">attributes with odd names</a>',
]

NOT_SIMPLE = [
    "<script>var a = '<p>';</script>text",
    "<style>p { color: red }</style>text",
    "<!-- a comment --><p>text</p>",
    "a < b and c > d",
    "unclosed <b",
    "<a href=unquoted>bare value</a>",
    '<a title="a>b">angle in a value</a>',
    "<input disabled>attribute without a value",
    "<br/ >odd close",
    '</p class="x">end tag with attributes',
    "<svg><text>drawn</text></svg>after",
    "<noscript>hidden</noscript>shown",
    "<?xml version='1.0'?><p>x</p>",
]


@pytest.mark.parametrize("markup", SIMPLE)
def test_simple_markup_reads_as_html_parser_reads_it(markup: str) -> None:
    assert _simple_markup_text(markup) == _parsed_markup_text(markup)


@pytest.mark.parametrize("markup", NOT_SIMPLE)
def test_other_markup_is_left_to_html_parser(markup: str) -> None:
    assert _simple_markup_text(markup) is None


def test_block_tags_end_lines_and_other_tags_do_not() -> None:
    assert html_to_text("<p>Iran <b>buys</b> jets</p><p>Second</p>") == "Iran buys jets\nSecond"


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("  Iran \t buys\u00a0jets \u200b ", "Iran buys jets"),
        ("one\u2028line\x1cseparators\x85are spaces", "one line separators are spaces"),
        (" \t\u00a0", ""),
        ("two\r\nlines", "two\nlines"),
        ("<p> a </p>", "a"),
        ("\u26a1\ufe0fSu-35 lands", "\u26a1Su-35 lands"),
        ("de\u00adliv\u2060ered\ufeff jets", "delivered jets"),
    ],
)
def test_one_line_and_several_collapse_alike(text: str, plain: str) -> None:
    assert html_to_text(text) == plain
