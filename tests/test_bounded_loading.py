"""Signal files and configs are loaded within bounds: size, YAML aliases, nesting depth.

A "billion laughs" file is one kilobyte on disk and gigabytes once its aliases
are expanded; a file nested thousands deep overflows a recursive loader. Each
must end in one error naming the file and line, in bounded time and memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from toysignals import WIDGET_LAUNCH

from allywatch.cli import main
from allywatch.language.yaml_lines import MAX_BYTES, MAX_BYTES_ENV


def laughs(levels: int = 10) -> str:
    """Ten levels of nine aliases each: 9**10 (3.5 billion) strings when expanded."""
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"lol{n}: &lol{n} [" + ", ".join([f"*lol{n - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# Loads the signal file argv[1] (with the config argv[2], if given) in a fresh process
# whose address space is capped, so a loader that expands the aliases fails quickly
# instead of taking the machine's memory; prints the errors and the peak RSS.
LOAD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from allywatch.config import ConfigError, load_config
    from allywatch.language.loader import SignalFileError, load_signals
    from allywatch.resources import builtin_dir
    errors = []
    try:
        if len(sys.argv) > 2:
            load_config(Path(sys.argv[2]))
        load_signals([Path(sys.argv[1])], builtin=builtin_dir("signals"))
    except SignalFileError as exc:
        errors = exc.errors
    except ConfigError as exc:
        errors = [str(exc)]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"errors": errors, "peak_mb": peak_kb / 1024}))
    """
)


def load_apart(signal: Path, config: Path | None = None) -> dict:
    args = [sys.executable, "-c", LOAD, str(signal)] + ([str(config)] if config else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def baseline(tmp_path: Path) -> float:
    """The peak RSS of loading one ordinary signal file, in MB."""
    good = tmp_path / "good.yaml"
    good.write_text(WIDGET_LAUNCH, encoding="utf-8")
    loaded = load_apart(good)
    assert loaded["errors"] == []
    return loaded["peak_mb"]


def test_a_billion_laughs_signal_file_is_refused_in_bounded_memory(
    tmp_path: Path, baseline: float
) -> None:
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(WIDGET_LAUNCH + laughs(), encoding="utf-8")
    assert bomb.stat().st_size < 2048

    loaded = load_apart(bomb)
    assert loaded["errors"] == [
        f"{bomb}:10: YAML aliases are not allowed (this one repeats the value on line 9):"
        " write the value out"
    ]
    assert loaded["peak_mb"] < baseline + 50


def test_a_billion_laughs_config_is_refused_in_bounded_memory(
    tmp_path: Path, baseline: float
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(WIDGET_LAUNCH, encoding="utf-8")
    config = tmp_path / "allywatch.yaml"
    config.write_text("sources: []\n" + laughs(), encoding="utf-8")

    loaded = load_apart(good, config)
    assert loaded["errors"] == [
        f"{config}:3: YAML aliases are not allowed (this one repeats the value on line 2):"
        " write the value out"
    ]
    assert loaded["peak_mb"] < baseline + 50


def test_an_oversized_signal_file_is_refused_unread(tmp_path: Path, baseline: float) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(WIDGET_LAUNCH, encoding="utf-8")
    with big.open("r+b") as file:  # a gigabyte, sparse: it costs no disk
        file.truncate(1 << 30)

    loaded = load_apart(big)
    assert loaded["errors"] == [
        f"{big}:1: larger than the limit of {MAX_BYTES} bytes for a YAML file"
        f" (set ${MAX_BYTES_ENV} to allow more)"
    ]
    assert loaded["peak_mb"] < baseline + 50


def test_the_size_limit_is_set_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_text("sources: []\n" + "# a comment\n" * 20, encoding="utf-8")

    monkeypatch.setenv(MAX_BYTES_ENV, "100")
    refused = CliRunner().invoke(main, ["--config", str(config), "signals", "validate"])
    assert refused.exit_code == 1
    assert refused.output == (
        f"allywatch: {config}:1: larger than the limit of 100 bytes for a YAML file"
        f" (set ${MAX_BYTES_ENV} to allow more)\n"
    )
    monkeypatch.setenv(MAX_BYTES_ENV, "1000000")
    assert CliRunner().invoke(main, ["--config", str(config), "signals", "validate"]).exit_code == 0


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("".join(" " * n + f"k{n}:\n" for n in range(900)), 101, "nested deeper than 100"),
        ("sources: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nesting depth"),
        ("sources: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", 1, "nest"),
    ],
    ids=["block", "flow-lists", "flow-mappings"],
)
def test_a_config_nested_thousands_deep_is_one_line(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    config = tmp_path / "allywatch.yaml"
    config.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "status"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"allywatch: {config}:{line}: ")
    assert says in lines[0]
