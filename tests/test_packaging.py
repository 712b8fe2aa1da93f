"""`pip install .` (not only editable) gives a working allywatch: the wheel carries
the signal pack, the templates and the migrations."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
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


def test_installed_wheel_runs_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(target)}
    work = tmp_path / "work"
    work.mkdir()
    code = (
        "import sys; from allywatch.cli import main; "
        "sys.argv = ['allywatch', 'signals', 'validate']; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr + result.stdout
    import_check = subprocess.run(
        [sys.executable, "-c", "import allywatch.resources as r; print(r.builtin_dir('signals'))"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert import_check.stdout.strip().startswith(str(target))
