"""The evaluation data some benchmarks read: it is not part of the repository.

It is the shared evaluation folder beside the clone (../shared/eval). A clone
without it still runs every benchmark that builds its own data; one that needs
the outside data says so in one line and exits with status 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

EVAL_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "eval"
NOISE_CORPUS = EVAL_DATA / "noise2022.jsonl.gz"


def require(path: Path) -> Path:
    """`path` if it exists; else one line naming it, and exit 0 (nothing to measure)."""
    if not path.exists():
        script = Path(sys.argv[0]).name
        print(f"{script}: skipped: needs {path} (evaluation data, not in the repository)")
        sys.exit(0)
    return path
