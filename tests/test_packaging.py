"""`pip install .` (not only editable) gives a working allywatch: the wheel carries
the signal pack, the templates and the migrations, and installs the one import
name `allywatch`, so it lives beside PyPI packages called `store` or `alerts`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FEED = ROOT / "examples" / "feeds" / "energy-daily.xml"

# Runs the command line of whichever allywatch the interpreter finds first.
CLI = "import sys; from allywatch.cli import main; sys.argv[0] = 'allywatch'; main()"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(out), str(ROOT)],
        check=True,
    )  # fmt: skip
    return next(out.glob("allywatch-*.whl"))


def test_wheel_carries_data_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    signals = {ROOT / "signals" / n for n in os.listdir(ROOT / "signals") if n.endswith(".yaml")}
    assert signals, "the built-in pack is empty"
    for path in signals:
        assert f"allywatch/_data/signals/{path.name}" in names
    assert any(n.startswith("allywatch/_data/templates/") for n in names)
    assert any(n.startswith("allywatch/store/migrations/versions/0001") for n in names)
    assert "allywatch/store/migrations/env.py" in names


def test_wheel_installs_no_top_level_name_but_allywatch(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"allywatch", wheel.name.split("-py")[0] + ".dist-info"}
    for step in ("watchers", "store", "alerts", "language"):
        assert f"allywatch/{step}/__init__.py" in names


def _stand_in(target: Path, name: str) -> Path:
    """A package named like allywatch's step packages, as PyPI's `store` and `alerts` are."""
    package = target / name
    package.mkdir(parents=True)
    init = package / "__init__.py"
    init.write_text(f'"""Not allywatch\'s: the unrelated PyPI `{name}`."""\nUNRELATED = True\n')
    return init


@pytest.mark.slow
def test_installed_wheel_works_beside_packages_named_store_and_alerts(
    wheel: Path, tmp_path: Path
) -> None:
    target = tmp_path / "site"
    stand_ins = [_stand_in(target, "store"), _stand_in(target, "alerts")]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         "--target", str(target), str(wheel)],
        check=True,
    )  # fmt: skip
    assert all("UNRELATED = True" in init.read_text() for init in stand_ins)

    # The venv's allywatch is an editable install: a .pth file puts the checkout on
    # sys.path. `-S` skips site processing, so no .pth file is read; PYTHONPATH then
    # names the target first and the venv's site-packages (the dependencies) after it.
    # cwd is a fresh folder, so neither the checkout nor its step folders are importable.
    site_packages = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(target), *site_packages]),
        "ALLYWATCH_CONFIG": "allywatch.yaml",
    }
    work = tmp_path / "work"
    (work / "feeds").mkdir(parents=True)
    shutil.copy(FEED, work / "feeds" / FEED.name)
    (work / "allywatch.yaml").write_text(
        f"database: sqlite:///watch.db\nsources:\n  - {{name: Local, path: feeds/{FEED.name}}}\n",
        encoding="utf-8",
    )

    def python(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-S", *args], cwd=work, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

    where = python(
        "-c",
        "import allywatch, json, sys; from allywatch.resources import builtin_dir; "
        "print(json.dumps([allywatch.__file__, str(builtin_dir('signals')), sys.path]))",
    )
    assert where.returncode == 0, where.stderr
    location, pack, path = json.loads(where.stdout)
    assert location == str(target / "allywatch" / "__init__.py")
    assert pack.startswith(str(target))
    assert str(ROOT) not in {str(Path(work, entry).resolve()) for entry in path}

    validate = python("-c", CLI, "signals", "validate")
    assert validate.returncode == 0, validate.stderr + validate.stdout

    run = python("-c", CLI, "run")
    assert run.returncode == 0, run.stderr + run.stdout
    feeds = python("-c", CLI, "feeds", "--json")
    assert feeds.returncode == 0, feeds.stderr
    [local] = json.loads(feeds.stdout)
    assert local["healthy"] and local["articles"] > 0, local
    assert local["location"] == str(work / "feeds" / FEED.name)
