"""What stands wrong with a watch now, whatever the last cycle polled: sources failing
past the config's `feed_failure_alert_after`, digests failing or unable to leave,
subscriptions to signals that no longer exist.

`run` turns these into its exit status; `status`, `subscribers` and `config
check` print them. Everything here reads; nothing writes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from allywatch.alerts.notify import is_apprise_url, is_operator
from allywatch.config import Config
from allywatch.digests import SECRET_ENV, unsubscribe_secret
from allywatch.store.models import Source, Subscriber


def digest_blockers(config: Config) -> list[str]:
    """Why email digests cannot leave as the config stands (empty: they can)."""
    blockers = []
    if not unsubscribe_secret(config):
        blockers.append(f"no unsubscribe secret: set `secret:` in the config file or ${SECRET_ENV}")
    if config.outbox is None and "smtp" not in config.model_fields_set:
        blockers.append("no mail server: the config names neither `smtp:` nor `outbox:`")
    return blockers


def is_email(address: str) -> bool:
    """Whether a subscriber's address gets email digests (not chat messages)."""
    return not (is_apprise_url(address) or is_operator(address))


def failing_too_long(sources: Sequence[Source], config: Config, now: datetime) -> list[Source]:
    """The sources failing for `feed_failure_alert_after` or longer."""
    after = config.feed_failure_alert_after
    return [s for s in sources if s.failing_since is not None and now - s.failing_since >= after]


def failing_digests(subscribers: Sequence[Subscriber]) -> list[Subscriber]:
    """The active subscribers whose last digest was not accepted (it waits for a retry)."""
    return [s for s in subscribers if s.active and s.failures]


def vanished_signals(subscriber: Subscriber, known: Collection[str]) -> list[str]:
    """The signals a subscriber asked for that no signal file defines any more."""
    return [signal for signal in subscriber.signals or () if signal not in known]
