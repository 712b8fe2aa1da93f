"""Analysts' verdicts as tests: `allywatch review export` appends labelled review items
to a signal's labels file (`su35-iran.labels.yaml` beside `su35-iran.yaml`), in the
`tests:` format of signal files, so that `allywatch signals test` runs them.

The file is only ever appended to, so an analyst's comments and edits stay; the
result is read back and checked before it replaces the old file in one step, so
a failed export leaves the file as it was. Feed text goes into YAML scalars
(quoted by the YAML writer), never into comments.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from allywatch.files import replace_file
from allywatch.language.model import NO_MATCH, Signal
from allywatch.language.yaml_lines import LList, LMap, YamlFileError, load_yaml
from allywatch.store.review import NO_STATE, Reviewed


class LabelsFileError(Exception):
    """A labels file that cannot be added to; the message names it."""


def as_test(signal: Signal, item: Reviewed) -> dict[str, Any]:
    """A labelled item as a test of the signal: its article's text and the verdict. A
    verdict of no state is tested for every entity; a state, for the item's entity."""
    test: dict[str, Any] = {}
    if item.title.strip():
        test["title"] = item.title
    if item.summary.strip():
        test["summary"] = item.summary
    if item.verdict == NO_STATE:
        test["expect"] = NO_MATCH
    else:
        test["expect"] = item.verdict
        if item.entity and item.entity in signal.entities:
            test["entity"] = item.entity
    return test


def _key(test: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(test.get("title", test.get("text", "")) or "").strip(),
        str(test.get("summary", "") or "").strip(),
        str(test.get("expect", "")),
        str(test.get("entity", "") or ""),
    )


def _written_tests(path: Path) -> list[dict[str, Any]]:
    """The tests a labels file holds already ([] for a new file)."""
    if not path.exists():
        return []
    try:
        data = load_yaml(path)
    except YamlFileError as exc:
        raise LabelsFileError(f"{path}:{exc.line}: {exc.message}") from None
    tests = data.get("tests") if isinstance(data, LMap) else None
    if not isinstance(data, LMap) or not isinstance(tests, LList | None):
        raise LabelsFileError(f"{path}: not a labels file (a mapping with `signal` and `tests`)")
    return [t for t in tests or [] if isinstance(t, dict)]


def _item_lines(test: dict[str, Any], item: Reviewed) -> str:
    body = yaml.safe_dump(test, allow_unicode=True, sort_keys=False, width=1_000_000)
    lines = body.rstrip("\n").split("\n")
    indented = ["  - " + lines[0], *("    " + line for line in lines[1:])]
    return f"  # review #{item.id}, published {item.published:%Y-%m-%d}\n" + "\n".join(indented)


def _header(signal: Signal) -> str:
    return (
        f"# Analysts' verdicts on articles {signal.id} nearly matched, written by\n"
        "# `allywatch review export`. `allywatch signals test` runs them with the signal\n"
        "# file's own tests; edit or remove them as you would any test.\n"
        f"signal: {signal.id}\n"
        "tests:\n"
    )


def append_tests(signal: Signal, items: Sequence[Reviewed], path: Path) -> list[Reviewed]:
    """Append the items' tests to the labels file at `path` (made if missing), but for
    those the signal or the file tests already; the items written."""
    known = {_key(_as_dict(t)) for t in signal.tests} | {_key(t) for t in _written_tests(path)}
    new: list[tuple[Reviewed, dict[str, Any]]] = []
    for item in items:
        test = as_test(signal, item)
        if _key(test) not in known:
            known.add(_key(test))
            new.append((item, test))
    if not new:
        return []
    old = path.read_text(encoding="utf-8") if path.exists() else _header(signal)
    if old and not old.endswith("\n"):
        old += "\n"
    content = old + "".join(_item_lines(test, item) + "\n" for item, test in new)
    _replace_checked(path, content, expected=len(_written_tests(path)) + len(new))
    return [item for item, _ in new]


def _as_dict(test: Any) -> dict[str, Any]:
    return {
        "title": test.title,
        "summary": test.summary,
        "expect": test.expect,
        "entity": test.entity or "",
    }


def _replace_checked(path: Path, content: str, expected: int) -> None:
    """Write `content` to `path` in one step, once it reads back with `expected` tests."""

    def reads_back(temp: Path) -> None:
        try:
            written: list[dict[str, Any]] | None = _written_tests(temp)
        except LabelsFileError:  # the appended lines broke the file
            written = None
        if written is None or len(written) != expected:
            raise LabelsFileError(
                f"{path}: its `tests:` list does not end the file, so tests cannot be"
                " appended to it; move `tests:` to the end"
            )

    replace_file(path, content, check=reads_back)
