"""Subscribers' addresses: an email address, an Apprise URL (`json://host/hook`) for
chat messages, or one of the config's `notify:` URLs (the operator's channel), kept
under OPERATOR_PREFIX.

Apart from the notifications themselves (alerts/notify.py) so that `status` and
`subscribers list`, which tell the kinds apart and print the addresses, load neither
the templates' helpers nor Apprise (but to hide a URL's secrets).
"""

from __future__ import annotations

import re
from typing import Any

# The config's `notify:` URLs are kept as subscribers under this prefix, apart from
# any subscriber who added the same URL by hand.
OPERATOR_PREFIX = "notify:"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_apprise_url(address: str) -> bool:
    """Whether a subscriber's address is an Apprise URL (scheme://...) rather than an email."""
    return bool(_SCHEME.match(address.strip()))


def is_operator(address: str) -> bool:
    return address.startswith(OPERATOR_PREFIX)


def target_url(address: str) -> str:
    """The Apprise URL a subscriber's address names."""
    return address.removeprefix(OPERATOR_PREFIX)


def operator_address(url: str) -> str:
    return OPERATOR_PREFIX + url


def redact(url: str) -> str:
    """The URL with its secrets (passwords, tokens) hidden, for printing."""
    import apprise  # loads its many plugins: only for an address to show

    plugin: Any = apprise.Apprise.instantiate(url)
    return plugin.url(privacy=True) if plugin is not None else url.split("://", 1)[0] + "://..."
