"""What stands wrong with a watch now, whatever the last cycle polled: sources failing
past the config's `feed_failure_alert_after`, digests failing or unable to leave,
subscriptions to signals that no longer exist.

`run` turns these into its exit status; `status`, `subscribers` and `config
check` print them. Everything here reads; nothing writes. What they read of the config
is its view (config_view.ConfigView), so `status` need not load the config in full;
a loaded Config is taken too.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from allywatch.alerts.addresses import is_apprise_url, is_operator, redact, target_url
from allywatch.config_view import SECRET_ENV, ConfigView, as_view

if TYPE_CHECKING:
    from allywatch.config import Config
    from allywatch.store.reads import SourceRecord, SubscriberRecord


def digest_blockers(config: Config | ConfigView) -> list[str]:
    """Why email digests cannot leave as the config stands (empty: they can)."""
    view = as_view(config)
    blockers = []
    if not view.has_unsubscribe_secret:
        blockers.append(f"no unsubscribe secret: set `secret:` in the config file or ${SECRET_ENV}")
    if not view.names_mail_route:
        blockers.append("no mail server: the config names neither `smtp:` nor `outbox:`")
    return blockers


def is_email(address: str) -> bool:
    """Whether a subscriber's address gets email digests (not chat messages)."""
    return not (is_apprise_url(address) or is_operator(address))


def failing_too_long(
    sources: Sequence[SourceRecord], config: Config | ConfigView, now: datetime
) -> list[SourceRecord]:
    """The sources failing for `feed_failure_alert_after` or longer."""
    after = config.feed_failure_alert_after
    return [s for s in sources if s.failing_since is not None and now - s.failing_since >= after]


def failing_digests(subscribers: Sequence[SubscriberRecord]) -> list[SubscriberRecord]:
    """The active subscribers whose last digest was not accepted (it waits for a retry)."""
    return [s for s in subscribers if s.active and s.failures]


def vanished_signals(subscriber: SubscriberRecord, known: Collection[str]) -> list[str]:
    """The signals a subscriber asked for that no signal file defines any more."""
    return [signal for signal in subscriber.signals or () if signal not in known]


def subscriber_problems(
    config: Config | ConfigView, subscribers: Sequence[SubscriberRecord], known: Collection[str]
) -> list[str]:
    """What keeps the active subscribers from their digests: what blocks email digests
    (when someone gets email), and subscriptions to signals no signal file defines."""
    active = [s for s in subscribers if s.active]
    problems = []
    if any(is_email(s.email) for s in active):
        problems += [f"email digests cannot be sent: {why}" for why in digest_blockers(config)]
    return problems + vanished_subscriptions(active, known)


def vanished_subscriptions(
    subscribers: Sequence[SubscriberRecord], known: Collection[str]
) -> list[str]:
    """A line for each active subscriber asking for signals no signal file defines."""
    lines = []
    for subscriber in subscribers:
        vanished = vanished_signals(subscriber, known)
        if subscriber.active and vanished:
            lines.append(
                f"{shown(subscriber.email)} subscribes to {', '.join(vanished)}:"
                " no such signal in the config's signals (renamed or removed?)"
            )
    return lines


def shown(address: str) -> str:
    """A subscriber's address as printed: an Apprise URL with its tokens and passwords hidden."""
    if is_operator(address):
        return f"{redact(target_url(address))} (config notify:)"
    return redact(address) if is_apprise_url(address) else address
