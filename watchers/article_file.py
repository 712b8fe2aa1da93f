"""Article files: the JSON Lines that `allywatch match` and `allywatch backtest` read.

One article a line: {"title", "summary", "link", "published" (ISO-8601), "source"}.
Each becomes the pipeline's one Article, made the way the feed parser makes
them: plain text, canonical link, UTC time.

Lines end at "\\n" only (a "\\r" before it is JSON whitespace). str.splitlines
would also end a line at U+2028, U+0085 and other separators, which a JSON
string may hold unescaped, and would so cut an article in two.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from allywatch.language.records import Article
from allywatch.watchers.links import canonical_link_and_outlet
from allywatch.watchers.text import html_to_text

_TEXT_FIELDS = ("title", "summary", "link", "source")


class ArticleFileError(Exception):
    """An article file that cannot be used; the message names the file and the line."""


def read_article_file(
    path: Path, text: str | None = None, *, undated: datetime | None = None
) -> list[Article]:
    """Every article of the file at `path` (`text` when it was read already, as stdin is).

    `undated` is the time given to an article without `published`, marked as
    estimated; without it every article must have one. Raises ArticleFileError
    naming the file, and the line of the first bad article.
    """
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ArticleFileError(f"{path}: cannot read: {exc}") from None
    return [
        _article(line, f"{path}:{number}", number, undated)
        for number, line in enumerate(text.split("\n"), start=1)
        if line.strip()
    ]


def _article(line: str, where: str, number: int, undated: datetime | None) -> Article:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ArticleFileError(
            f"{where}: not valid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    if not isinstance(item, dict):
        raise ArticleFileError(f"{where}: expected a JSON object, got {type(item).__name__}")
    for key in _TEXT_FIELDS:
        if item.get(key) is not None and not isinstance(item[key], str):
            raise ArticleFileError(
                f"{where}: `{key}` must be a string, got {type(item[key]).__name__}"
            )
    if not (item.get("title") or item.get("summary")):
        raise ArticleFileError(f"{where}: an article needs a `title` or a `summary`")
    published, estimated = _published(item.get("published"), where, undated)
    link, outlet = canonical_link_and_outlet(item.get("link") or "")
    source = item.get("source") or ""
    return Article(
        # Lines without a link are told apart by their place in the file.
        uid=link or f"line-{number}",
        link=link,
        title=html_to_text(item.get("title") or ""),
        summary=html_to_text(item.get("summary") or ""),
        published=published,
        source=source,
        outlet=outlet or source,
        published_estimated=estimated,
    )


def _published(value: Any, where: str, undated: datetime | None) -> tuple[datetime, bool]:
    """(the UTC time, whether it is estimated); a time without a zone is UTC."""
    if value is None:
        if undated is None:
            raise ArticleFileError(f"{where}: missing `published` (an ISO-8601 time)")
        return undated, True
    try:
        moment = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ArticleFileError(f"{where}: `published` must be an ISO-8601 time, got {value!r}")
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)), False
