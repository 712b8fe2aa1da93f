"""A small world of news for whole-process tests: three outlets' feeds over real HTTP.

The stories move the built-in signals over a few days (a Su-35 deal, its
delivery reported, then corroborated; an Armenian freeze; a Kazakh absence; a
pipeline agreement). Each feed shows only what was published by the world's
clock, so running `allywatch run --now MOMENT` at each of `moments` plays the
days out as a real poller would see them. The days lie just ahead of the wall
clock, so subscribers added today are there before any of the news.

`snapshot(database)` reads back everything a cycle stores, without row ids,
so two databases that saw the same news can be compared.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from feedserver import FeedServer, Reply, Seen
from sqlalchemy import select

from allywatch.store.engine import open_engine, reading
from allywatch.store.models import (
    Alert,
    Article,
    Delivery,
    Observation,
    SignalState,
    Subscriber,
    Transition,
)

RSS = "application/rss+xml; charset=utf-8"

# (outlet, hours after the first moment, title, summary)
STORIES = [
    ("gulf", 6, "Iran finalises deal to buy Su-35 fighter jets from Russia",
     "Tehran and Moscow signed a contract for 24 Sukhoi Su-35 fighters."),
    ("eurasia", 9, "Armenia freezes its participation in the CSTO",
     "Yerevan suspended its participation in the Collective Security Treaty Organization."),
    ("energy", 20, "Oil prices steady as markets wait for OPEC",
     "Brent crude was little changed on Tuesday."),
    ("gulf", 26, "Iran takes delivery of first Su-35 jets, state TV says",
     "The first batch of Su-35 fighters arrived at an air base near Hamadan."),
    ("eurasia", 27, "Kazakhstan's president skips CSTO summit in Minsk",
     "Kassym-Jomart Tokayev did not attend the CSTO summit, sending a deputy instead."),
    ("energy", 30, "Su-35 fighters delivered to Iran, satellite images show",
     "Russian Su-35 jets were spotted at Hamadan after their delivery to Iran."),
    ("eurasia", 50, "Iran receives Russian Su-35 warplanes",
     "Iran's air force received its first Su-35 fighter jets from Russia."),
    ("energy", 52, "Russia and China sign Power of Siberia 2 gas pipeline agreement",
     "Gazprom and CNPC signed a binding contract for the Power of Siberia 2 pipeline."),
    ("gulf", 75, "Kyrgyzstan may skip the next CSTO meeting, reports say",
     "Officials in Bishkek are said to be weighing whether to attend."),
]  # fmt: skip
OUTLETS = sorted({outlet for outlet, *_ in STORIES})


class NewsWorld:
    """The outlets' feeds on `server`, as they stood at `clock`."""

    def __init__(self, server: FeedServer) -> None:
        start = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
        self.start = start + timedelta(days=1)
        # The first moment sees nothing yet (the baseline); the last, a day after the
        # last story, lets anything still pending go out.
        self.moments = [self.start + timedelta(days=d) for d in range(5)]
        self.clock = self.start
        self.server = server
        self.requests = 0
        for outlet in OUTLETS:
            server.route(f"/{outlet}.xml", self._feed(outlet))

    def config(
        self,
        folder: Path,
        *,
        database: str = "sqlite:///watch.db",
        smtp_port: int | None = None,
        poll_interval: str = "1h",
    ) -> Path:
        """A config in `folder` (by default, database watch.db there) reading every outlet."""
        folder.mkdir(parents=True, exist_ok=True)
        lines = [f"database: '{database}'", f"poll_interval: {poll_interval}", "sources:"]
        lines += [f"  - {{name: {o}, url: '{self.server.url(f'/{o}.xml')}'}}" for o in OUTLETS]
        if smtp_port is not None:
            lines += [
                f"smtp: {{host: 127.0.0.1, port: {smtp_port}, from: 'allywatch <w@example.org>'}}",
                "secret: a-test-secret-of-enough-length",
            ]
        path = folder / "allywatch.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def _feed(self, outlet: str):
        def respond(_seen: Seen) -> Reply:
            self.requests += 1
            items = "".join(
                f"<item><title>{title}</title><description>{summary}</description>"
                f"<link>https://{outlet}.example.com/news/{index}</link>"
                f"<pubDate>{format_datetime(self.start + timedelta(hours=hours), usegmt=True)}"
                "</pubDate></item>"
                for index, (source, hours, title, summary) in enumerate(STORIES)
                if source == outlet and self.start + timedelta(hours=hours) <= self.clock
            )
            body = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>{outlet}</title><link>https://{outlet}.example.com/</link>"
                f"{items}</channel></rss>"
            )
            return Reply(body=body.encode(), headers={"Content-Type": RSS})

        return respond


def moment_arg(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def snapshot(database: Path | str) -> dict[str, list[Any]]:
    """Everything the cycles stored, as sorted lists of plain values (no row ids).

    `database`: an SQLite file, or any database URL.
    """
    engine = open_engine(database if isinstance(database, str) else f"sqlite:///{database}")
    try:
        with reading(engine) as s:
            uid = dict(s.execute(select(Article.id, Article.uid)).all())
            key = dict(s.execute(select(Alert.id, Alert.key)).all())
            email = dict(s.execute(select(Subscriber.id, Subscriber.email)).all())
            return {
                "articles": sorted(
                    s.execute(
                        select(Article.uid, Article.link, Article.title, Article.published_at)
                    ).all()
                ),
                "observations": sorted(
                    (uid[o.article_id], o.signal, o.entity, o.state, o.polarity, o.hedged)
                    for o in s.scalars(select(Observation))
                ),
                "transitions": sorted(
                    (t.signal, t.entity, t.from_state, t.to_state, t.at)
                    for t in s.scalars(select(Transition))
                ),
                "alerts": sorted(
                    (a.key, a.signal or "", a.entity, a.to_state or "", a.at, a.announced)
                    for a in s.scalars(select(Alert))
                ),
                "states": sorted(
                    (st.signal, st.entity, st.state, st.since)
                    for st in s.scalars(select(SignalState))
                ),
                "deliveries": sorted(
                    (email[d.subscriber_id], key[d.alert_id]) for d in s.scalars(select(Delivery))
                ),
            }
    finally:
        engine.dispose()
