"""`python -m allywatch`: the same as the `allywatch` command."""

from allywatch.cli import main

main(prog_name="allywatch")
