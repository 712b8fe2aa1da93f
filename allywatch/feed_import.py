"""`allywatch feeds import FILE.opml`: add the feeds of an OPML file to the config.

Importing edits the user's config file as text: the new sources are appended to
its `sources:` list and every other character (comments, order, quoting) stays
as the user wrote it. The result is checked with the config loader before it
replaces the file, and it replaces it in one step, so a failed import leaves
the file exactly as it was.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click
import yaml

from allywatch.config import load_config
from allywatch.config_view import find_config
from allywatch.errors import ConfigError
from allywatch.files import replace_file
from allywatch.watchers.sources import read_opml


def import_feeds(explicit: Path | None, opml_file: Path, *, dry_run: bool) -> None:
    """Add the feeds of `opml_file` to the config file (find_config(explicit)) and say
    what was added and skipped; with `dry_run`, only say it."""
    config_path = find_config(explicit)
    config = load_config(config_path)
    outlines = _read_outlines(opml_file)
    plan = plan_import(outlines, {s.name: s.url for s in config.sources})
    added = [p for p in plan if p.configured_as is None]
    skipped = [p for p in plan if p.configured_as is not None]
    if added:
        entries = [p.entry for p in added]
        text = _read_text(config_path)
        new_text = append_sources(text, entries)
        _check_edit(config_path, text, new_text, entries)
        if not dry_run:
            _replace_validated(config_path, new_text)
        verb = "would add" if dry_run else "added"
        click.echo(f"{verb} {len(added)} of {len(plan)} feeds to {config_path}:")
    else:
        click.echo(f"nothing to add: every feed in {opml_file} is already in {config_path}")
    for p in added:
        renamed = f"  (renamed: {p.outline_name!r} is taken)" if p.name != p.outline_name else ""
        click.echo(f"  + {p.name}  {p.url}{renamed}")
    if skipped:
        click.echo(f"skipped {len(skipped)} already configured:")
        for p in skipped:
            click.echo(f"  = {p.outline_name}  {p.url}  (configured as {p.configured_as!r})")


@dataclass(frozen=True)
class Planned:
    """One OPML feed and what importing does with it."""

    name: str
    url: str
    outline_name: str
    configured_as: str | None = None  # the config source that already has this URL

    @property
    def entry(self) -> dict[str, str]:
        return {"name": self.name, "url": self.url}


def plan_import(
    outlines: list[tuple[str, str]], configured: dict[str, str | None]
) -> list[Planned]:
    """Decide, for each OPML feed `(name, url)`, whether it is added and under which name.

    `configured` maps the config's source names to their URLs (None for sources
    that are not plain URLs). A feed whose URL is configured is skipped; a name
    in use gets the first free " (2)", " (3)", ... suffix, never one another
    imported feed already carries.
    """
    by_url = {_same_url(url): name for name, url in configured.items() if url}
    taken = set(configured)
    fresh = [(name, url) for name, url in outlines if _same_url(url) not in by_url]
    reserved = {name for name, _ in fresh} - taken
    plan = []
    for name, url in outlines:
        existing = by_url.get(_same_url(url))
        if existing is not None:
            plan.append(Planned(name, _same_url(url), name, configured_as=existing))
            continue
        unique, n = name, 1
        while unique in taken or (unique != name and unique in reserved):
            n += 1
            unique = f"{name} ({n})"
        taken.add(unique)
        plan.append(Planned(unique, _same_url(url), name))
    return plan


def _same_url(url: str) -> str:
    """`url` with its scheme and host in lower case, the form compared and written."""
    parts = urlsplit(url.strip())
    userinfo, at, host = parts.netloc.rpartition("@")
    return urlunsplit(
        parts._replace(scheme=parts.scheme.lower(), netloc=userinfo + at + host.lower())
    )


def _read_outlines(path: Path) -> list[tuple[str, str]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        specs = read_opml(data)
    except ValueError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    # Titles may hold line breaks and runs of spaces; a source name is one line.
    return [(" ".join(s.name.split()), s.url or "") for s in specs]


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc


def append_sources(text: str, entries: list[dict[str, str]]) -> str:
    """`text` (a YAML config) with `entries` appended to its top-level `sources:` list.

    Only characters are inserted: one `- {name: ..., url: ...}` line per entry
    after the last existing source, or inside a `[...]` list, or as a new
    `sources:` block at the end of the file.
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    flows = [_flow(entry) for entry in entries]
    value = _sources_node(yaml.compose(text))
    if value is None:
        return _insert_lines(text, len(text), ["sources:", *[f"  - {f}" for f in flows]], newline)
    if value.flow_style:
        if value.value:
            at, insert = value.value[-1].end_mark.index, "".join(f", {f}" for f in flows)
        else:
            at, insert = value.start_mark.index + 1, ", ".join(flows)
        return text[:at] + insert + text[at:]
    indent = " " * value.start_mark.column
    at = _after_line(text, _content_end(value))
    return _insert_lines(text, at, [f"{indent}- {f}" for f in flows], newline)


def _insert_lines(text: str, at: int, lines: list[str], newline: str) -> str:
    """`text` with whole `lines` inserted at the line start `at` (or at the end)."""
    lead = newline if at == len(text) and text and not text.endswith("\n") else ""
    return text[:at] + lead + "".join(line + newline for line in lines) + text[at:]


def _flow(entry: dict[str, str]) -> str:
    """`entry` as a one-line YAML flow mapping, quoted where YAML needs it."""
    return yaml.safe_dump(
        entry, default_flow_style=True, allow_unicode=True, sort_keys=False, width=sys.maxsize
    ).strip()


def _sources_node(root: yaml.Node | None) -> yaml.SequenceNode | None:
    """The top-level `sources` list (the last one, as the loader reads), if there is one.

    A config that loaded has a list there or no `sources` key at all.
    """
    if not isinstance(root, yaml.MappingNode):
        return None
    found = None
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "sources":
            found = value
    return found if isinstance(found, yaml.SequenceNode) else None


def _content_end(node: yaml.Node) -> int:
    """Where the last character of `node` is, not counting comments after a block."""
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1])
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1][1])
    return node.end_mark.index


def _after_line(text: str, index: int) -> int:
    """The start of the line after the one holding `index` (a line start stays put)."""
    if index == 0 or text[index - 1] == "\n":
        return index
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _check_edit(path: Path, before: str, after: str, entries: list[dict[str, str]]) -> None:
    """Make sure the edited text says what the old one said, plus `entries` as sources."""
    old = yaml.safe_load(before) or {}
    expected = {**old, "sources": [*(old.get("sources") or []), *entries]}
    try:
        ok = yaml.safe_load(after) == expected
    except yaml.YAMLError:
        ok = False
    if not ok:
        listed = "".join(f"\n  - {_flow(entry)}" for entry in entries)
        raise ConfigError(
            f"{path}: cannot add to its sources list without rewriting the file;"
            f" add these lines to it by hand:{listed}"
        )


def _replace_validated(path: Path, text: str) -> None:
    """Write `text` over `path` in one step (see replace_file), once the config loader
    accepts it."""

    def loads(temp: Path) -> None:
        try:
            load_config(temp)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(temp), str(path))) from exc

    replace_file(path, text, check=loads)
