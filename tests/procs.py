"""`allywatch` as a separate process, the way cron and systemd start it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

COMMAND = [sys.executable, "-c", "from allywatch.cli import main; main(prog_name='allywatch')"]


def allywatch(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run one command to the end; its output as text."""
    return subprocess.run(
        [*COMMAND, "--config", str(config), *args], capture_output=True, text=True, timeout=timeout
    )


def start_allywatch(config: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """Start one command and return at once (stdout and stderr piped, text)."""
    return subprocess.Popen(
        [*COMMAND, "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )
