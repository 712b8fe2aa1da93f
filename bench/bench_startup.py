"""How long a command takes from start to exit, as a person at a terminal feels it.

    python bench/bench_startup.py [--rounds R]

Times whole processes (median of R runs each, interleaved): `python -c pass` and
`python -c "import sqlalchemy"` as yardsticks measured in the same run, then
`allywatch --help`, `allywatch status` and `allywatch feeds` on a small database made
from the sample feeds in examples/. Prints milliseconds and each command's ratio to
both yardsticks. Targets: --help <= 100 ms; status and feeds <= 250 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ALLYWATCH = [sys.executable, "-m", "allywatch"]


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        feeds = sorted((REPO / "examples" / "feeds").glob("*.xml"))
        sources = "".join(f"  - {{name: '{f.stem}', path: '{f}'}}\n" for f in feeds)
        (work / "allywatch.yaml").write_text(f"sources:\n{sources}", encoding="utf-8")
        subprocess.run([*ALLYWATCH, "run"], cwd=work, check=True, stdout=subprocess.DEVNULL)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import sqlalchemy'": [sys.executable, "-c", "import sqlalchemy"],
            "allywatch --help": [*ALLYWATCH, "--help"],
            "allywatch status": [*ALLYWATCH, "status"],
            "allywatch feeds": [*ALLYWATCH, "feeds"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, command in commands.items():
                times[name].append(timed(command, work))
    median = {name: statistics.median(values) for name, values in times.items()}
    bare, sqla = median["python -c pass"], median["python -c 'import sqlalchemy'"]
    print(f"start-up, median of {rounds} runs each (interleaved)")
    print(f"{'command':32} {'ms':>7} {'x pass':>8} {'x sqlalchemy':>13}")
    for name, seconds in median.items():
        print(f"{name:32} {seconds * 1000:7.0f} {seconds / bare:8.1f} {seconds / sqla:13.2f}")


if __name__ == "__main__":
    main()
