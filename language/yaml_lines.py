"""YAML loading that remembers line numbers, so signal file errors can point at them.

Parsing runs in libyaml (`yaml.CSafeLoader`) when PyYAML was built with it, which
is several times faster than the pure-Python parser used otherwise; both give the
same values and the same line numbers.

Loading is bounded, for signal files and configs alike: a file larger than
MAX_BYTES (2 MB; the environment variable ALLYWATCH_MAX_YAML_BYTES sets another
number of bytes) is not read, YAML aliases (`*name`) are refused (these files
need none, and a "billion laughs" file of one kilobyte expands to gigabytes
through them), and so are values nested deeper than MAX_DEPTH. Each is an error
naming its line. The checks run as values are built, so they cost nothing extra.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml


class LMap(dict[Any, Any]):
    """A mapping read from YAML: `.line` of the mapping, `.lines[key]` of each key."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LList(list[Any]):
    """A sequence read from YAML: `.line` of the sequence, `.lines[i]` of each item."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.lines[index] if index < len(self.lines) else self.line


class YamlFileError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


MAX_BYTES = 2 * 1024 * 1024
MAX_BYTES_ENV = "ALLYWATCH_MAX_YAML_BYTES"
MAX_DEPTH = 100  # mappings and sequences inside each other; allywatch's files need a few


def max_bytes() -> int:
    """The size limit of a YAML file: $ALLYWATCH_MAX_YAML_BYTES when set, else MAX_BYTES."""
    value = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not value:
        return MAX_BYTES
    if not value.isdigit() or int(value) <= 0:
        raise YamlFileError(1, f"${MAX_BYTES_ENV} must be a number of bytes, not {value!r}")
    return int(value)


def read_bounded(path: Path) -> str:
    """The text of `path`, read only up to the size limit; YamlFileError past it, or when
    it cannot be read or is not UTF-8."""
    limit = max_bytes()
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise YamlFileError(1, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise YamlFileError(
            1,
            f"larger than the limit of {limit} bytes for a YAML file"
            f" (set ${MAX_BYTES_ENV} to allow more)",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlFileError(1, f"not UTF-8 text: {exc}") from exc


def _invalid(exc: yaml.MarkedYAMLError) -> YamlFileError:
    mark = exc.problem_mark or exc.context_mark
    return YamlFileError(mark.line + 1 if mark else 1, f"not valid YAML: {exc.problem or exc}")


# The safe loader: libyaml's parser when available, PyYAML's own otherwise. Both
# construct only plain values, plus the line-tracking mappings and sequences below.
_SafeBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):  # type: ignore[misc]  # a base chosen at run time
    pass


def _mapping(loader: Any, node: yaml.MappingNode) -> LMap:
    loader.flatten_mapping(node)
    out = LMap()
    out.line = node.start_mark.line + 1
    with _nested(loader, node):
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = _construct(loader, key_node, line)
            try:
                hash(key)
            except TypeError:
                raise YamlFileError(line, "a mapping key must be a plain value") from None
            if key in out:
                raise YamlFileError(line, f"duplicate key {key!r} (first on line {out.lines[key]})")
            out[key] = _construct(loader, value_node, line)
            out.lines[key] = line
    return out


def _sequence(loader: Any, node: yaml.SequenceNode) -> LList:
    out = LList()
    out.line = node.start_mark.line + 1
    with _nested(loader, node):
        for item in node.value:
            out.append(_construct(loader, item, out.line))
            out.lines.append(item.start_mark.line + 1)
    return out


def _construct(loader: Any, node: yaml.Node, line: int) -> Any:
    """The value of `node`, refused where it was built before: then `node` is reached a
    second time, through an alias (line: where it is used, as near as is known)."""
    if node in loader.constructed_objects or node in loader.recursive_objects:
        raise YamlFileError(
            line,
            f"YAML aliases are not allowed (this one repeats the value on line"
            f" {node.start_mark.line + 1}): write the value out",
        )
    return loader.construct_object(node, deep=True)


@contextmanager
def _nested(loader: Any, node: yaml.Node) -> Iterator[None]:
    """Count mappings and lists inside each other; past MAX_DEPTH, an error."""
    depth = getattr(loader, "nesting", 0) + 1
    if depth > MAX_DEPTH:
        raise YamlFileError(
            node.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} mappings and lists"
        )
    loader.nesting = depth
    try:
        yield
    finally:
        loader.nesting = depth - 1


class PurePythonLoader(yaml.SafeLoader):
    """The same loader on PyYAML's pure-Python parser (the fallback without libyaml)."""


for _cls in (_Loader, PurePythonLoader):
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(path: Path, loader: type | None = None) -> Any:
    """Parse one YAML file, within the bounds (see the module's docstring); raises
    YamlFileError with the line of the problem.

    `loader` overrides the loader class (a subclass of `yaml.SafeLoader` or
    `yaml.CSafeLoader` with this module's constructors): for comparing the two.
    """
    return parse_yaml(read_bounded(path), loader)


def parse_yaml(text: str, loader: type | None = None) -> Any:
    """Parse YAML text read by read_bounded, within the bounds on aliases and nesting."""
    try:
        return yaml.load(text, Loader=loader or _Loader)  # noqa: S506 - a safe loader
    except YamlFileError:
        raise
    except RecursionError as exc:  # composing, in the pure-Python parser (no libyaml)
        raise YamlFileError(1, f"nested deeper than {MAX_DEPTH} mappings and lists") from exc
    except yaml.MarkedYAMLError as exc:
        raise _invalid(exc) from exc
    except yaml.YAMLError as exc:
        raise YamlFileError(1, f"not valid YAML: {exc}") from exc
