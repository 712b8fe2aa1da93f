"""`allywatch --help`, `-h` and `-V` answer without loading any command's libraries,
and the command list the help shows is the one the command modules define."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from allywatch.cli import COMMANDS, main

HEAVY = ("sqlalchemy", "pydantic", "httpx", "feedparser", "jinja2", "apscheduler", "yaml")


def modules_loaded_by(*args: str) -> set[str]:
    code = (
        "import sys\n"
        "from allywatch.cli import main\n"
        f"try:\n    main({list(args)!r})\n"
        "except SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stderr.split())


def test_help_and_version_load_no_command_module_and_no_heavy_library() -> None:
    for args in (["--help"], ["-h"], ["-V"]):
        loaded = modules_loaded_by(*args)
        assert "allywatch.cli" in loaded
        heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
        assert not heavy, f"{args} imported {heavy[:5]}"
        commands = sorted(m for m in loaded if m.startswith("allywatch.commands."))
        assert not commands, f"{args} imported {commands}"


def test_the_help_lists_every_command_on_one_uncut_line() -> None:
    output = CliRunner().invoke(main, ["-h"], terminal_width=80).output
    listing = output.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listing] == sorted(COMMANDS)
    assert not any(line.rstrip().endswith("...") for line in listing)


def test_version_answers_to_its_short_flag() -> None:
    result = CliRunner().invoke(main, ["-V"])
    assert result.exit_code == 0 and "version 0.1" in result.output
