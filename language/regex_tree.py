"""The parse tree of a `{regex: ...}` term, as Python's `re` reads it case-insensitively.

Two readings walk it: the check for catastrophic backtracking (backtracking.py)
and the prefilter keys (regex.py). The tree is read once per expression and kept,
since a vocabulary's regex terms recur in every signal that uses them.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typeshed describes the parser under its older, public names
    import sre_parse as _parser
else:  # importing those warns of their deprecation
    import re._parser as _parser

Items = tuple[tuple[Any, Any], ...]


@cache
def parse_regex(source: str) -> Items | None:
    """The top-level items (opcode, argument) of `source`; None where `re` cannot read it
    (compile_regex reports that)."""
    try:
        return tuple(_parser.parse(source, re.IGNORECASE).data)
    except Exception:  # noqa: BLE001 - the parser raises more than re.error on odd input
        return None
