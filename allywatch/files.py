"""Writing a file over another in one step, so that no reader ever sees half of it."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path


def replace_file(path: Path, text: str, check: Callable[[Path], None] | None = None) -> None:
    """Write `text` over `path` in one step.

    The text goes to a temporary file beside the real one (so that relative paths
    in it mean the same), is flushed to disk, gets the old file's permissions,
    and is handed to `check`, which raises to keep the old file; only then is it
    renamed over `path`. A symlink stays a symlink: its target is replaced. The
    temporary file never stays behind.
    """
    target = path.resolve()
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    temp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
        if check is not None:
            check(temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
