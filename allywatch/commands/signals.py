"""Signal files and the matcher from the command line: `match`, `signals validate`, `signals test`.

None of these touch the database, and none needs a config file: without one
they use the built-in signal pack.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from allywatch.config import load_config
from allywatch.language.loader import SignalFileError
from allywatch.language.model import Signal
from allywatch.language.records import Article, Observation
from allywatch.output import echo, plural
from allywatch.resources import builtin_dir
from allywatch.signal_cache import load_signals_keeping_checks
from allywatch.watchers.article_file import ArticleFileError, read_article_file
from allywatch.watchers.matcher import Matcher
from allywatch.watchers.signal_tests import run_signal_tests


def _signals(ctx: click.Context, paths: tuple[Path, ...] = ()) -> list[Signal]:
    """Signals from `paths`, else from the config (else the built-in pack); exits on errors."""
    if not paths:
        config = load_config(ctx.obj.get("config_path") if ctx.obj else None, required=False)
        paths = tuple(config.signal_paths)
    try:
        return load_signals_keeping_checks(list(paths), builtin=builtin_dir("signals"))
    except SignalFileError as exc:
        for error in exc.errors:
            click.echo(error, err=True)
        click.echo(f"allywatch: {plural(len(exc.errors), 'error')} in signal files", err=True)
        sys.exit(1)


def _read_articles(path: Path) -> list[Article]:
    """Every article of a JSON Lines file ("-": stdin); exits naming the file and line of a
    bad one. Articles without a `published` time are dated now: matching does not use it."""
    try:
        text = sys.stdin.read() if str(path) == "-" else None
        return read_article_file(path, text, undated=datetime.now(UTC))
    except ArticleFileError as exc:
        click.echo(f"allywatch: {exc}", err=True)
        sys.exit(1)


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input line.")
@click.pass_context
def match(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Match the articles of FILE (JSON Lines) against the signals; touches no database."""
    articles = _read_articles(file)
    matcher = Matcher(_signals(ctx))
    matched = 0
    for article in articles:
        observations = matcher.match(article.title, article.summary)
        matched += bool(observations)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "link": article.link or None,
                        "observations": [o.to_json() for o in observations],
                    },
                    ensure_ascii=False,
                )
            )
        elif observations:
            _print_article(article, observations)
    if not as_json:
        click.echo(f"{plural(len(articles), 'article')}, {matched} with observations")


def _print_article(article: Article, observations: list[Observation]) -> None:
    """The article, then one plain line per observation: `su35-iran: hedged evidence
    for deal`, the words that matched (each once, with where they stood) and the
    sentences they stood in. Article text is feed text: it goes through `echo`."""
    echo(article.title or "(no title)")
    if article.link:
        echo(f"  {article.link}")
    for obs in observations:
        subject = f"{obs.signal} / {obs.entity}" if obs.entity else obs.signal
        hedged = "hedged " if obs.hedged else ""
        echo(f"  {subject}: {hedged}evidence {obs.polarity} {obs.state}")
        echo(f"    matched: {_matched_words(obs)}")
        for sentence in dict.fromkeys(e.sentence for e in obs.evidence):
            echo(f"    in: {sentence}")
    click.echo()


def _matched_words(obs: Observation) -> str:
    """`jet "Su-35" (title, summary), delivery "delivered" (title)`: each term list and
    text once, whatever its case, with the fields it was found in."""
    fields: dict[tuple[str, str], dict[str, None]] = {}
    texts: dict[tuple[str, str], str] = {}
    for e in obs.evidence:
        key = (e.term, e.text.casefold())
        texts.setdefault(key, e.text)
        fields.setdefault(key, {})[e.field] = None
    return ", ".join(
        f"{term} {texts[term, text]!r} ({', '.join(fields[term, text])})" for term, text in fields
    )


@click.group()
def signals() -> None:
    """Check signal files and run their embedded tests."""


_paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=False))


@signals.command()
@_paths_argument
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Check signal files (default: those of the config, else the built-in pack)."""
    loaded = _signals(ctx, paths)
    click.echo(f"ok: {plural(len(loaded), 'signal')}: {', '.join(s.id for s in loaded)}")


@signals.command("test")
@_paths_argument
@click.pass_context
def test_command(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Run the tests embedded in signal files, like `promtool test rules`."""
    loaded = _signals(ctx, paths)
    failures = run_signal_tests(loaded)
    total = sum(len(s.tests) for s in loaded)
    for failure in failures:
        click.echo(f"FAIL {failure}")
    passed = total - len(failures)
    click.echo(
        f"{plural(total, 'test')} in {plural(len(loaded), 'signal')}: {passed} passed,"
        f" {len(failures)} failed"
    )
    if failures:
        sys.exit(1)


COMMANDS = [match, signals]
