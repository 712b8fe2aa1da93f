"""Errors a user can fix, shared by the command line and the modules it loads lazily.

Kept free of heavy imports: the command line catches these before it knows which
command module (and so which libraries) a run needs.
"""


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and the key."""
