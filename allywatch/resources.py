"""Where the data that ships with allywatch lives: the signal pack and the templates.

In a source checkout (and an editable install) they are the top-level `signals/`
and `templates/` folders; a built wheel carries them inside this package under
`_data/` (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def builtin_dir(name: str) -> Path:
    """The folder of built-in data called `name` ("signals" or "templates")."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / name
