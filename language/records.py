"""The values that flow through the pipeline: one `Article` from parsing to the store,
one `Observation` from the matcher to the rules engine, one `NearMiss` from the
matcher to the review queue.

An article is a frozen dataclass. An observation is a NamedTuple: a replay holds
every observation of a signal (a million stored ones is an ordinary replay), and
tuples are cheap to build in bulk and quick to read, which the rules engine was
made fast on. `allywatch match` prints them without a database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

Polarity = Literal["for", "against"]


@dataclass(frozen=True)
class Article:
    """One normalised news item: plain text, canonical link, UTC time."""

    uid: str
    link: str
    title: str
    summary: str
    published: datetime
    source: str
    outlet: str = ""
    published_estimated: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["published"] = self.published.isoformat()
        return data


@dataclass(frozen=True)
class MatchedTerm:
    """One matched word or phrase: which term list, the text, where it stood."""

    term: str
    text: str
    field: Literal["title", "summary"]
    start: int
    end: int
    sentence: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchedTerm:
        return cls(**data)


class NearMiss(NamedTuple):
    """An article that meets a signal's `subject` but evidences none of its states: kept
    for an analyst to review. `entity` is the one entity the subject matched with (None
    when none or several did); `words`, the subject's words and those of the states'
    term lists in the same sentences, each with its term list's name."""

    signal: str
    entity: str | None
    words: tuple[MatchedTerm, ...]


class Observation(NamedTuple):
    """An article evidencing (or denying) one state of one signal.

    The matcher fills in what it read: the signal, entity, state, polarity,
    whether the report was hedged, and `evidence`, the terms it matched.
    `in_article` adds what the rules engine needs of the article it was read
    in: when it was published, its outlet, its story (syndicated copies share
    one), its link and title. Observations read back from the store carry them
    too.
    """

    signal: str
    entity: str | None
    state: str
    polarity: Polarity = "for"
    hedged: bool = False
    evidence: tuple[MatchedTerm, ...] = ()
    published: datetime | None = None
    outlet: str = ""
    story: str = ""
    link: str = ""
    title: str = ""
    tier: str = "other"  # the source's tier (official, wire, major, other)

    def in_article(self, article: Article, story: str) -> Observation:
        """This observation, placed in the article it was read in (filed in `story`)."""
        return self._replace(
            published=article.published,
            outlet=article.outlet,
            story=story,
            link=article.link,
            title=article.title,
        )

    @property
    def when(self) -> datetime:
        """`published`, of an observation placed in its article (the rules engine, the
        store and what they report on are given no other); ValueError on one that is not."""
        if self.published is None:
            raise ValueError(f"an observation of {self.signal} not placed in an article")
        return self.published

    def words(self) -> tuple[str, ...]:
        """The matched texts, each once, in the order they stood."""
        return tuple(dict.fromkeys(term.text for term in self.evidence if term.text))

    def to_json(self) -> dict[str, Any]:
        """What the matcher read (the article's own facts are the article's)."""
        return {
            "signal": self.signal,
            "entity": self.entity,
            "state": self.state,
            "polarity": self.polarity,
            "hedged": self.hedged,
            "evidence": [term.to_json() for term in self.evidence],
        }
