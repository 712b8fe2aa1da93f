"""Imports flow one way: allywatch (cli, config, cycle, commands, ...) -> watchers, alerts
-> store -> language.

watchers and alerts never import each other, language imports nothing of ours, and
nothing anywhere (tests, benchmarks, scripts included) imports the step packages under
their top-level folder names: always `allywatch.store`, never `store`.

Every module is parsed, not imported, so an import inside a function or under
`if TYPE_CHECKING:` counts like any other. The step packages are reached through
allywatch/'s symlinks, as Python reaches them.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = "allywatch"
STEPS = ("watchers", "store", "alerts", "language")
# A step package may import only from steps of a lower rank (and itself);
# the rest of allywatch (rank 3) may import anything.
RANK = {"language": 0, "store": 1, "watchers": 2, "alerts": 2, APP: 3}
NOT_SOURCE = {".git", ".venv", "build", "dist", "node_modules", *STEPS}


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to, or None if it is not ours."""
    parts = module.split(".")
    if parts[0] != APP:
        return None
    return parts[1] if len(parts) > 1 and parts[1] in STEPS else APP


def imported_names(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute dotted name) of every import in `source`, wherever it sits.

    `package` is the package relative imports start from. For `from X import a`
    the names are X.a, so `from allywatch import store` is seen as allywatch.store.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield node.lineno, base if alias.name == "*" else f"{base}.{alias.name}"


def violations(source: str, module: str | None, package: str = "") -> list[str]:
    """What is wrong with the imports of `source`.

    `module` is its dotted name when it is part of allywatch (then the layers
    apply), None for a test, benchmark or script (then only the top-level names do).
    """
    importer = layer_of(module) if module else None
    found = []
    for line, name in imported_names(source, package):
        top = name.split(".")[0]
        if top in STEPS:
            found.append(f"line {line}: imports {name}; the step packages are allywatch.{top}")
            continue
        target = layer_of(name)
        if importer is None or target is None or target == importer:
            continue
        if RANK[target] >= RANK[importer]:
            found.append(f"line {line}: {importer} imports {name}, against the layers")
    return found


def app_modules() -> Iterator[tuple[Path, str, str]]:
    """(file, module name, package) of every module under allywatch/, links followed."""
    for folder, _dirs, files in os.walk(ROOT / APP, followlinks=True):
        package = ".".join(Path(folder).relative_to(ROOT).parts)
        for file in sorted(f for f in files if f.endswith(".py")):
            stem = file.removesuffix(".py")
            module = package if stem == "__init__" else f"{package}.{stem}"
            yield Path(folder) / file, module, package


def other_sources() -> Iterator[Path]:
    """Every other Python file of the repository: tests, benchmarks, scripts, ..."""
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder)
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in NOT_SOURCE]
        if here == ROOT / APP:
            continue
        yield from (here / f for f in sorted(files) if f.endswith(".py"))


def test_the_walk_reaches_every_step_package_through_its_link() -> None:
    layers = {layer_of(module) for _path, module, _package in app_modules()}
    assert layers == {APP, *STEPS}


def test_allywatch_imports_flow_one_way() -> None:
    problems = [
        f"{path.relative_to(ROOT)} {problem}"
        for path, module, package in app_modules()
        for problem in violations(path.read_text(encoding="utf-8"), module, package)
    ]
    assert problems == []


def test_nothing_imports_a_step_package_by_its_folder_name() -> None:
    problems = [
        f"{path.relative_to(ROOT)} {problem}"
        for path in other_sources()
        for problem in violations(path.read_text(encoding="utf-8"), None)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("allywatch.store.queries", "from allywatch.watchers.matcher import Matcher"),
        ("allywatch.store.queries", "from allywatch import alerts"),
        ("allywatch.language.model", "from allywatch.store import models"),
        ("allywatch.language.model", "import allywatch.config"),
        ("allywatch.watchers.matcher", "def f():\n    from allywatch.alerts import rules\n"),
        (
            "allywatch.alerts.rules",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from allywatch.watchers.parse import Feed\n",
        ),
        ("allywatch.alerts.rules", "from ..watchers import matcher"),
        ("allywatch.store.models", "from .. import cycle"),
        ("allywatch.cycle", "from store.models import Alert"),
        ("allywatch.cycle", "import language.model"),
    ],
)
def test_an_import_against_the_layers_is_reported(module: str, source: str) -> None:
    package = module.rsplit(".", 1)[0]
    assert len(violations(source, module, package)) == 1


def test_a_test_importing_a_top_level_step_name_is_reported() -> None:
    assert violations("from watchers.fetch import fetch_all_sync\n", None) != []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("allywatch.cycle", "from allywatch.watchers import fetch\nimport allywatch.alerts.rules"),
        ("allywatch.alerts.rules", "from allywatch.store import queries\nfrom . import digest"),
        ("allywatch.store.queries", "from allywatch.language.records import Article"),
        ("allywatch.watchers.matcher", "from ..language.model import Signal"),
        ("allywatch.language.model", "from .terms import TermList\nimport re"),
    ],
)
def test_imports_down_the_layers_are_fine(module: str, source: str) -> None:
    package = module.rsplit(".", 1)[0]
    assert violations(source, module, package) == []
