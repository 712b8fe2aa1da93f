"""A small world of news for whole-process tests: outlets' feeds over real HTTP.

Each feed shows only what was published by the world's clock, so running
`allywatch run --clock MOMENT` at one moment after another plays the news out as
a real poller would see it. The default world is three outlets whose stories
move the built-in signals over a few days (a Su-35 deal, its delivery reported,
then corroborated; an Armenian freeze; a Kazakh absence; a pipeline agreement),
played out at `moments`. The days lie just ahead of the wall clock, so
subscribers added today are there before any of the news. `from_examples` is
the world of the sample feeds in examples/feeds instead (their news is of 2025).

`NewsWorld.of_stories` builds a world of any length from `Story` values (a
world of several years, say): a story may surface in its feed later than it
is dated, as search feeds show articles hours or days late. `run_at` runs one
cycle at a chosen moment of the world's clock.

`snapshot(database)` reads back everything a cycle stores, without row ids,
so two databases that saw the same news can be compared.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from feedserver import FeedServer, Reply, Seen
from sqlalchemy import select

from allywatch.cli import main
from allywatch.store.engine import open_engine, reading
from allywatch.store.models import (
    Alert,
    ArticleRow,
    Delivery,
    ObservationRow,
    SignalState,
    Subscriber,
    Transition,
)

RSS = "application/rss+xml; charset=utf-8"
EXAMPLE_FEEDS = Path(__file__).resolve().parent.parent / "examples" / "feeds"
ITEM = re.compile(r"\s*<item>.*?</item>", re.S)
PUB_DATE = re.compile(r"<pubDate>(.*?)</pubDate>")
LINK = re.compile(r"<link>(.*?)</link>")


@dataclass(frozen=True)
class Story:
    """One item in one outlet's feed, dated `published`; the feed first shows it at
    `surfaces` (by default when it is published)."""

    outlet: str
    published: datetime
    title: str
    summary: str = ""
    surfaces: datetime | None = None


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
    """The outlets' feeds on `server` (`/OUTLET.xml`), as they stood at `clock`.

    `documents` maps each outlet to its whole feed, every item dated by its
    pubDate; by default, the outlets of STORIES.
    """

    def __init__(
        self,
        server: FeedServer,
        documents: dict[str, str] | None = None,
        surfacing: Mapping[str, datetime] | None = None,
    ) -> None:
        start = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
        self.start = start + timedelta(days=1)
        # The first moment sees nothing yet (the baseline); the last, a day after the
        # last story, lets anything still pending go out.
        self.moments = [self.start + timedelta(days=d) for d in range(5)]
        self.clock = self.start
        self.server = server
        self.requests = 0
        self.documents = _story_feeds(self.start) if documents is None else documents
        self.surfacing = dict(surfacing or {})  # link -> when its item first shows
        for outlet in self.documents:
            server.route(f"/{outlet}.xml", self._feed(outlet))

    @classmethod
    def from_examples(cls, server: FeedServer) -> NewsWorld:
        """The sample feeds of examples/feeds, one outlet per file (named by its stem)."""
        feeds = sorted(EXAMPLE_FEEDS.glob("*.xml"))
        return cls(server, {path.stem: path.read_text(encoding="utf-8") for path in feeds})

    @classmethod
    def of_stories(cls, server: FeedServer, stories: Sequence[Story]) -> NewsWorld:
        """A world of `stories`, one feed per outlet."""
        return cls(
            server,
            story_feeds(stories),
            {_link(s, i): s.surfaces for i, s in enumerate(stories) if s.surfaces is not None},
        )

    def config(
        self,
        folder: Path,
        *,
        database: str = "sqlite:///watch.db",
        smtp_port: int | None = None,
        poll_interval: str = "1h",
        announce_within: str = "7d",
        outlets: Sequence[str] | None = None,
        tiers: Mapping[str, str] | None = None,
        extra: str = "",
    ) -> Path:
        """A config in `folder` (by default, database watch.db there) reading every outlet,
        or only `outlets`; `tiers` gives outlets a source tier, `extra` more config lines."""
        folder.mkdir(parents=True, exist_ok=True)
        lines = [
            f"database: '{database}'",
            f"poll_interval: {poll_interval}",
            f"announce_within: {announce_within}",
            "sources:",
        ]
        tiers = tiers or {}
        for outlet in sorted(self.documents if outlets is None else outlets):
            tier = f", tier: {tiers[outlet]}" if outlet in tiers else ""
            url = self.server.url(f"/{outlet}.xml")
            lines.append(f"  - {{name: {outlet}, url: '{url}'{tier}}}")
        if smtp_port is not None:
            lines += [
                f"smtp: {{host: 127.0.0.1, port: {smtp_port}, from: 'allywatch <w@example.org>'}}",
                "secret: a-test-secret-of-enough-length",
            ]
        path = folder / "allywatch.yaml"
        path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
        return path

    def _feed(self, outlet: str) -> Callable[[Seen], Reply]:
        document = self.documents[outlet]

        def respond(_seen: Seen) -> Reply:
            self.requests += 1
            shown = ITEM.sub(lambda m: m.group(0) if self._published(m.group(0)) else "", document)
            return Reply(body=shown.encode(), headers={"Content-Type": RSS})

        return respond

    def _published(self, item: str) -> bool:
        date = PUB_DATE.search(item)
        if date is None or parsedate_to_datetime(date.group(1)) > self.clock:
            return False
        link = LINK.search(item)
        surfaces = self.surfacing.get(link.group(1)) if link is not None else None
        return surfaces is None or surfaces <= self.clock


def story_feeds(stories: Sequence[Story]) -> dict[str, str]:
    """Each outlet's RSS feed holding all its stories; the i-th story's link ends in /i."""
    outlets = sorted({s.outlet for s in stories})
    return {
        outlet: (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{outlet}</title><link>https://{outlet}.example.com/</link>"
            + "".join(
                f"<item><title>{s.title}</title><description>{s.summary}</description>"
                f"<link>{_link(s, index)}</link>"
                f"<pubDate>{format_datetime(s.published, usegmt=True)}</pubDate></item>"
                for index, s in enumerate(stories)
                if s.outlet == outlet
            )
            + "</channel></rss>"
        )
        for outlet in outlets
    }


def _link(story: Story, index: int) -> str:
    return f"https://{story.outlet}.example.com/news/{index}"


def _story_feeds(start: datetime) -> dict[str, str]:
    """Each outlet's feed holding all its STORIES, dated from `start`."""
    return story_feeds(
        [
            Story(outlet, start + timedelta(hours=hours), title, summary)
            for outlet, hours, title, summary in STORIES
        ]
    )


def moment_arg(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def run_at(config: Path, world: NewsWorld, moment: datetime, *args: str) -> str:
    """One `allywatch run` (with `args`) with the world's clock and the run's at `moment`;
    its output."""
    world.clock = moment
    result = CliRunner().invoke(
        main, ["--config", str(config), "run", "--clock", moment_arg(moment), *args]
    )
    assert result.exit_code == 0, result.output
    return result.output


def snapshot(database: Path | str) -> dict[str, list[Any]]:
    """Everything the cycles stored, as sorted lists of plain values (no row ids).

    `database`: an SQLite file, or any database URL.
    """
    engine = open_engine(database if isinstance(database, str) else f"sqlite:///{database}")
    try:
        with reading(engine) as s:
            uid = dict(s.execute(select(ArticleRow.id, ArticleRow.uid)).all())
            key = dict(s.execute(select(Alert.id, Alert.key)).all())
            email = dict(s.execute(select(Subscriber.id, Subscriber.email)).all())
            return {
                "articles": sorted(
                    s.execute(
                        select(
                            ArticleRow.uid,
                            ArticleRow.link,
                            ArticleRow.title,
                            ArticleRow.published_at,
                        )
                    ).all()
                ),
                "observations": sorted(
                    (uid[o.article_id], o.signal, o.entity, o.state, o.polarity, o.hedged)
                    for o in s.scalars(select(ObservationRow))
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
