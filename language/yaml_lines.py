"""YAML loading that remembers line numbers, so signal file errors can point at them.

Parsing runs in libyaml (`yaml.CSafeLoader`) when PyYAML was built with it, which
is several times faster than the pure-Python parser used otherwise; both give the
same values and the same line numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class LMap(dict):
    """A mapping read from YAML: `.line` of the mapping, `.lines[key]` of each key."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LList(list):
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


# The safe loader: libyaml's parser when available, PyYAML's own otherwise. Both
# construct only plain values, plus the line-tracking mappings and sequences below.
_SafeBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):  # type: ignore[misc, valid-type]
    pass


def _mapping(loader: Any, node: yaml.MappingNode) -> LMap:
    loader.flatten_mapping(node)
    out = LMap()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise YamlFileError(line, "a mapping key must be a plain value") from None
        if key in out:
            raise YamlFileError(line, f"duplicate key {key!r} (first on line {out.lines[key]})")
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


def _sequence(loader: Any, node: yaml.SequenceNode) -> LList:
    out = LList()
    out.line = node.start_mark.line + 1
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)
    return out


class PurePythonLoader(yaml.SafeLoader):
    """The same loader on PyYAML's pure-Python parser (the fallback without libyaml)."""


for _cls in (_Loader, PurePythonLoader):
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(path: Path, loader: type | None = None) -> Any:
    """Parse one YAML file; raises YamlFileError with the line of the problem.

    `loader` overrides the loader class (a subclass of `yaml.SafeLoader` or
    `yaml.CSafeLoader` with this module's constructors): for comparing the two.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlFileError(1, f"not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise YamlFileError(1, f"cannot read: {exc.strerror or exc}") from exc
    try:
        return yaml.load(text, Loader=loader or _Loader)  # noqa: S506 - a safe loader
    except YamlFileError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlFileError(line, f"not valid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise YamlFileError(1, f"not valid YAML: {exc}") from exc
