"""How long a command takes from start to exit, as a person at a terminal feels it.

    python bench/bench_startup.py [--rounds R] [--baseline DIR]

Times whole processes, interleaved, R runs each: `python -c pass` and
`python -c "import sqlalchemy"` as yardsticks measured in the same run, then
`allywatch --help`, `status`, `feeds` and `alerts` in a workspace made by `allywatch
init` with its sources swapped for the sample feeds in examples/ and one `run` over
them (so the database holds articles, states and alerts). Each command runs once
before timing, as a user's second command would: `status` then finds its signal
outlines cached. Prints min and median milliseconds and each command's ratio to both
yardsticks (of the medians and of the minimums). Targets: --help <= 100 ms; status
and feeds <= 250 ms.

--baseline DIR times the same commands of another checkout too (`git archive REV |
tar -x -C DIR`), in the same rounds, on the same database: before and after in one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
ALLYWATCH = [sys.executable, "-m", "allywatch"]
YARDSTICKS = ("python -c pass", "python -c 'import sqlalchemy'")


def timed(command: list[str], cwd: Path, env: dict[str, str] | None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def make_workspace(work: Path) -> None:
    """`allywatch init`, its real feeds swapped for the local sample feeds, one run."""
    subprocess.run([*ALLYWATCH, "init"], cwd=work, check=True, stdout=subprocess.DEVNULL)
    config_file = work / "allywatch.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    feeds = sorted((REPO / "examples" / "feeds").glob("*.xml"))
    config["sources"] = [{"name": f.stem, "path": str(f)} for f in feeds]
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    subprocess.run(
        [*ALLYWATCH, "run", "--clock", "2025-09-10T00:00:00"],
        cwd=work,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--baseline", type=Path, help="another checkout, timed alongside")
    options = parser.parse_args()
    rounds = options.rounds
    allywatch = {
        f"allywatch {name}": [*ALLYWATCH, name] for name in ("--help", "status", "feeds", "alerts")
    }
    commands: dict[str, tuple[list[str], dict[str, str] | None]] = {
        YARDSTICKS[0]: ([sys.executable, "-c", "pass"], None),
        YARDSTICKS[1]: ([sys.executable, "-c", "import sqlalchemy"], None),
        **{name: (command, None) for name, command in allywatch.items()},
    }
    if options.baseline is not None:
        env = {**os.environ, "PYTHONPATH": str(options.baseline.resolve())}
        commands |= {f"baseline: {name}": (command, env) for name, command in allywatch.items()}
    times: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        make_workspace(work)
        for command, env in commands.values():
            timed(command, work, env)
        for _ in range(rounds):
            for name, (command, env) in commands.items():
                times[name].append(timed(command, work, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    minimums = {name: min(values) for name, values in times.items()}
    print(f"start-up, {rounds} runs each (interleaved); ratios of medians (of minimums)")
    print(f"{'command':32} {'min ms':>7} {'med ms':>7} {'x pass':>13} {'x sqlalchemy':>13}")
    for name in commands:
        ratios = [
            f"{medians[name] / medians[y]:6.2f} ({minimums[name] / minimums[y]:4.2f})"
            for y in YARDSTICKS
        ]
        print(
            f"{name:32} {minimums[name] * 1000:7.0f} {medians[name] * 1000:7.0f}"
            f" {ratios[0]:>13} {ratios[1]:>13}"
        )
    for name in allywatch:
        if f"baseline: {name}" in medians:
            before = medians[f"baseline: {name}"]
            print(f"{name}: {medians[name] / before:.2f} x the baseline's time (medians)")


if __name__ == "__main__":
    main()
