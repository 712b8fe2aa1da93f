"""Who holds an SQLite database's write lock, where the system says (Linux's /proc/locks).

SQLite locks its files with POSIX advisory locks: in WAL mode a writer holds a
write lock on the database's -shm file, in rollback-journal mode on the database
file itself. When another program keeps the database locked, naming the process
that holds the lock tells the user what to stop, where a bare "database is
locked" leaves them guessing. Elsewhere, or when the holder cannot be seen (it
runs on another host, or in another PID namespace), the answer is empty.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC_LOCKS = Path("/proc/locks")


def write_lock_holders(database: Path) -> list[str]:
    """The processes other than this one holding a write lock on `database` or its -shm
    file, each as "pid N (name)"; empty where nothing can be told."""
    files = set()  # as /proc/locks names them: device major:minor (hex), inode
    for path in (database, database.with_name(database.name + "-shm")):
        try:
            status = os.stat(path)
        except OSError:
            continue
        files.add(f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}")
    try:
        table = PROC_LOCKS.read_text()
    except OSError:
        return []
    pids = []
    for line in table.splitlines():
        # "1: POSIX  ADVISORY  WRITE 1903 fe:00:2212706 120 120"; a blocked waiter's line
        # has "->" after the number.
        fields = line.replace("->", "").split()
        if len(fields) < 6 or fields[1] != "POSIX" or fields[3] != "WRITE":
            continue
        pid, file = fields[4], fields[5]
        if file in files and pid.isdigit() and int(pid) != os.getpid() and pid not in pids:
            pids.append(pid)
    return [f"pid {pid}{_name(pid)}" for pid in pids]


def _name(pid: str) -> str:
    try:
        return f" ({Path(f'/proc/{pid}/comm').read_text().strip()})"
    except OSError:
        return ""
