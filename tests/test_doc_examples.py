"""Every YAML example in README.md and signals/README.md is valid as it stands: the
config examples load through the config loader, the signal examples pass
`allywatch signals validate` (each in a folder of its own, with what it names:
an aggregate's signal, a labels file's signal file, a vocabulary's folder)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from allywatch.cli import main
from allywatch.config import load_config
from allywatch.resources import builtin_dir

ROOT = Path(__file__).resolve().parent.parent


def yaml_examples(document: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", document.read_text(encoding="utf-8"), re.S)


README_CONFIGS = yaml_examples(ROOT / "README.md")
SIGNAL_EXAMPLES = yaml_examples(ROOT / "signals" / "README.md")
# The first signal example is the whole su35-iran file the labels example sits beside.
FIRST_SIGNAL = SIGNAL_EXAMPLES[0]


def test_the_documents_hold_examples() -> None:
    assert README_CONFIGS and len(SIGNAL_EXAMPLES) >= 4


@pytest.mark.parametrize("example", README_CONFIGS, ids=lambda e: e.splitlines()[0][:40])
def test_each_readme_config_example_loads(tmp_path: Path, example: str) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_text(example, encoding="utf-8")
    load_config(config)


@pytest.mark.parametrize("example", SIGNAL_EXAMPLES, ids=lambda e: e.splitlines()[0][:40])
def test_each_signal_example_validates(tmp_path: Path, example: str) -> None:
    data = yaml.safe_load(example)
    if "id" in data:
        (tmp_path / f"{data['id']}.yaml").write_text(example, encoding="utf-8")
        if "aggregate" in data:
            shutil.copy(builtin_dir("signals") / f"{data['aggregate']['of']}.yaml", tmp_path)
    elif "signal" in data:
        (tmp_path / f"{data['signal']}.yaml").write_text(FIRST_SIGNAL, encoding="utf-8")
        (tmp_path / f"{data['signal']}.labels.yaml").write_text(example, encoding="utf-8")
    else:
        assert set(data) <= {"terms", "entities"}, f"neither a signal nor a vocabulary: {data}"
        (tmp_path / "su35-iran.yaml").write_text(FIRST_SIGNAL, encoding="utf-8")
        (tmp_path / "vocab").mkdir()
        (tmp_path / "vocab" / "example.yaml").write_text(example, encoding="utf-8")
    result = CliRunner().invoke(main, ["signals", "validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
