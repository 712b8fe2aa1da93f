"""The command line's lazy command table and the migration head stay in step with the code."""

from __future__ import annotations

import importlib

from alembic.script import ScriptDirectory
from click.testing import CliRunner

from allywatch.cli import COMMANDS, main
from allywatch.store.migrate import alembic_config, head_revision


def test_every_command_module_lists_exactly_the_commands_mapped_to_it() -> None:
    for module in {module for module, _ in COMMANDS.values()}:
        defined = {c.name for c in importlib.import_module(f"allywatch.commands.{module}").COMMANDS}
        mapped = {name for name, (where, _) in COMMANDS.items() if where == module}
        assert defined == mapped, module


def test_help_lists_every_command_and_an_unknown_one_is_refused() -> None:
    runner = CliRunner()
    listing = runner.invoke(main, ["--help"])
    assert listing.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in listing.output
    unknown = runner.invoke(main, ["stauts"])
    assert unknown.exit_code == 2
    assert "No such command 'stauts'" in unknown.output


def test_head_revision_is_alembics_head() -> None:
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
