"""Grouping near-duplicate articles into stories.

A wire story reaches us through many outlets, each with small edits: a changed
headline, a trimmed or missing summary, the outlet's name appended. The rules
engine should count independent stories, so every article is assigned the
story of the first article it nearly duplicates.

How: each text becomes a set of word-pair shingles. One-permutation MinHash
(one hash per shingle, 32 bins, empty bins filled from their neighbours) gives
a signature whose bands of two bins are indexed (locality-sensitive hashing),
so finding candidates costs a few dictionary look-ups however many articles are
held; a pair with Jaccard similarity 0.5 shares a band with probability 0.99.
Headlines get a small index of their own, so that a headline-only item still
finds the same story told with a long summary. Candidates are then checked
exactly on their shingle sets; grouping is single-link (a story grows through
any of its members).

Memory is about 3 KB per article held (20,000 articles: about 55 MB).
"""

from __future__ import annotations

import heapq
import re
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable
from operator import itemgetter

_WORD = re.compile(r"\w+")
_TOKEN_CACHE_LIMIT = 500_000
_NONE: frozenset[str] = frozenset()
# Leads carry the story; long summaries mostly add boilerplate and cost.
MAX_TITLE_WORDS = 40
MAX_SUMMARY_WORDS = 120
MAX_CHECKS = 64  # candidates verified per article (most shared bands first)
MAX_BUCKET = 64  # items kept per LSH bucket (newest): boilerplate must not grow buckets forever
SAME_TITLE = 0.85  # headline word overlap that makes two items one story on its own...
MIN_SAME_TITLE_WORDS = 5  # ...when the headline is long enough to be specific
MIN_CONTAINED = 6  # word pairs a text needs before containment alone may group it


TEXT_BINS_LOG2, TITLE_BINS_LOG2, ROWS = 5, 3, 2  # signature shapes: 32 and 8 bins, 2 a band


def band_keys(hashes: Iterable[int], bins_log2: int, rows: int = ROWS) -> list[int]:
    """A one-permutation MinHash signature's band keys: the minimum hash of each bin,
    `rows` bins a band.

    Hashes are signed 64-bit; `h >> shift` is a bin number in [-bins/2, bins/2),
    which indexes the signature list from both ends.
    """
    bins = 1 << bins_log2
    shift = 64 - bins_log2
    low = (1 << shift) - 1
    empty = low + 1
    sig = [empty] * bins
    # Within one bin larger hashes come first, so the smallest is written last.
    for h in sorted(hashes, reverse=True):
        sig[h >> shift] = h & low
    _densify(sig, empty)
    # Band b is (b, sig[b * rows], ..., sig[b * rows + rows - 1]), hashed as one tuple.
    # (Slices of the last rows may hold a bin past the last whole band: zip drops it.)
    columns = (sig[row::rows] for row in range(rows))
    return list(map(hash, zip(range(bins // rows), *columns, strict=False)))


class _Index:
    """Locality-sensitive index over band keys."""

    def __init__(self) -> None:
        self.buckets: dict[int, int | list[int]] = {}

    def match_and_insert(self, keys: list[int], item: int, found: Counter[int]) -> None:
        """Count in `found` the bands each earlier item shares with `keys`; file `item`."""
        buckets = self.buckets
        for key in keys:
            hit = buckets.get(key)
            if hit is None:
                buckets[key] = item  # most buckets hold one item: skip the list
            elif isinstance(hit, int):
                found[hit] += 1
                buckets[key] = [hit, item]
            else:
                found.update(hit)
                hit.append(item)
                if len(hit) > MAX_BUCKET:
                    del hit[0]


def _densify(sig: list[int], empty: int) -> None:
    """Fill empty bins from the next filled bin to the right (circularly), offset by distance.

    Two texts that share a filled bin then also agree on the empty bins borrowing
    from it, which keeps short texts (few shingles, many empty bins) comparable.
    """
    n = len(sig)
    filled = [i for i, v in enumerate(sig) if v != empty]
    if not filled or len(filled) == n:
        return
    # Walk the gaps only: each run of empty bins before a filled bin borrows from it.
    previous = filled[-1] - n  # the last filled bin, seen from before bin 0
    for current in filled:
        value = sig[current]
        for i in range(previous + 1, current):
            sig[i % n] = value + (current - i) * empty
        previous = current


class StoryGrouper:
    """Assigns each article to a story: the uid of the first article of its near-duplicates.

    Two articles are the same story when their headlines share at least half
    their words and either the headlines are (almost) the same or the texts
    are: word-pair Jaccard similarity of title + summary at least `threshold`,
    or, for a short text (headline-only item, trimmed summary), at least
    `containment` of its word pairs found in the other. Requiring similar
    headlines keeps apart items that only share boilerplate ("Subscribe to our
    channel...") or a recurring headline whose numbers change.

    The state is only what `add` was given, so it can be rebuilt by adding the
    stored (uid, title, summary) rows in their original order.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        containment: float = 0.8,
        title_overlap: float = 0.5,
    ) -> None:
        for name, value in (
            ("threshold", threshold),
            ("containment", containment),
            ("title_overlap", title_overlap),
        ):
            if not 0 < value <= 1:
                raise ValueError(f"StoryGrouper {name} must be in (0, 1], got {value}")
        self.threshold = threshold
        self.containment = containment
        self.title_overlap = title_overlap
        self._text_index = _Index()
        self._title_index = _Index()
        self._items: list[Fingerprint] = []
        self._stories: list[str] = []  # per item: its story key
        self._story_of_uid: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._story_of_uid)

    def story_of(self, uid: str) -> str | None:
        """The story key of an article already added, else None."""
        return self._story_of_uid.get(uid)

    def add(self, uid: str, title: str, summary: str) -> str:
        """Group one article and return its story key; adding a known uid again is a no-op."""
        return self.add_fingerprint(uid, fingerprint(title, summary))

    def add_fingerprint(self, uid: str, print_: Fingerprint | None) -> str:
        """`add`, for an article whose fingerprint was taken already (in another process);
        the grouper keeps the fingerprint."""
        return self._file(uid, print_, None)

    def restore(self, uid: str, title: str, summary: str, story: str) -> None:
        """Hold an article whose story key is already known (stored by an earlier cycle).

        Cheaper than `add` (no matching), and keeps the stored keys even when a
        story's first article is older than the rows being restored.
        """
        self._file(uid, fingerprint(title, summary), story)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str]], **options: float) -> StoryGrouper:
        """A grouper holding stored (uid, title, summary) rows, added in the given order."""
        grouper = cls(**options)
        for uid, title, summary in rows:
            grouper.add(uid, title, summary)
        return grouper

    def _file(self, uid: str, print_: Fingerprint | None, story: str | None) -> str:
        known = self._story_of_uid.get(uid)
        if known is not None:
            return known
        if print_ is not None:
            position = len(self._items)
            candidates: Counter[int] = Counter()
            self._text_index.match_and_insert(print_.text_keys, position, candidates)
            if print_.title_keys:
                self._title_index.match_and_insert(print_.title_keys, position, candidates)
            if story is None:
                match = self._first_match(print_, candidates)
                story = self._stories[match] if match is not None else None
            print_.text_keys = print_.title_keys = []  # filed: no longer needed (memory)
            self._items.append(print_)
            self._stories.append(story or uid)
        self._story_of_uid[uid] = story = story or uid
        return story

    def _first_match(self, new: Fingerprint, candidates: Counter[int]) -> int | None:
        """The first candidate that is the same story, trying those sharing most bands first.

        At most MAX_CHECKS are tried: boilerplate can make many items collide, and
        a true copy shares more bands than an item that only shares boilerplate.
        """
        if not candidates:  # about half of the articles of a cold cycle
            return None
        title_set = set(new.title_words)
        shingles = set(new.shingles)
        ranked = heapq.nlargest(MAX_CHECKS, candidates.items(), key=itemgetter(1, 0))
        for position, _ in ranked:
            old = self._items[position]
            if new.numbers - old.numbers and old.numbers - new.numbers:
                continue  # "Day 199 of the war" and "Day 200 of the war" are different stories
            if new.title_words and old.title_words:
                common = len(title_set.intersection(old.title_words))
                union = len(new.title_words) + len(old.title_words) - common
                if common < self.title_overlap * union:
                    continue
                if common >= SAME_TITLE * union and common >= MIN_SAME_TITLE_WORDS:
                    return position
            common = len(shingles.intersection(old.shingles))
            union = len(shingles) + len(old.shingles) - common
            if common >= self.threshold * union:
                return position
            smaller = min(len(shingles), len(old.shingles))
            if smaller >= MIN_CONTAINED and common >= self.containment * smaller:
                return position
        return None


class Fingerprint:
    """What grouping needs of an article, taken from its text alone: in any process,
    with the same result (word ids are crc32s, shingles hashes of int tuples)."""

    __slots__ = ("title_words", "numbers", "shingles", "text_keys", "title_keys")

    def __init__(
        self,
        title_words: tuple[int, ...],
        numbers: frozenset[str],
        shingles: array[int],
        text_keys: list[int],
        title_keys: list[int],
    ) -> None:
        self.title_words = title_words  # distinct headline word ids
        self.numbers = numbers  # numbers in the headline
        self.shingles = shingles  # of title and summary
        self.text_keys = text_keys  # band keys of the text's signature
        self.title_keys = title_keys  # ... and of the headline's (none without one)


def fingerprint(title: str, summary: str) -> Fingerprint | None:
    """The article's fingerprint; None for a text without words (never grouped)."""
    title_words = _words(title, MAX_TITLE_WORDS)
    title_ids = _token_ids(title_words)
    title_shingles = _shingles(title_ids)
    text_shingles = title_shingles | _shingles(_token_ids(_words(summary, MAX_SUMMARY_WORDS)))
    if not text_shingles:
        return None
    return Fingerprint(
        tuple(set(title_ids)),
        frozenset(w for w in title_words if w.isdigit()) or _NONE,
        array("q", text_shingles),
        band_keys(text_shingles, TEXT_BINS_LOG2),
        band_keys(title_shingles, TITLE_BINS_LOG2) if title_shingles else [],
    )


class _WordIds(dict[str, int]):
    """Word ids, per process: crc32 rather than hash(), since str hashes change between
    runs and a rebuilt grouper must make the same decisions as the one it replaces.
    A word not seen yet gets its id on look-up."""

    def __missing__(self, word: str) -> int:
        self[word] = found = zlib.crc32(word.encode("utf-8"))
        return found


_tokens = _WordIds()


def _token_ids(words: list[str]) -> list[int]:
    if len(_tokens) >= _TOKEN_CACHE_LIMIT:
        _tokens.clear()
    return list(map(_tokens.__getitem__, words))


def _words(text: str, limit: int) -> list[str]:
    # Scanning a bounded prefix keeps a pathological summary from costing more.
    return _WORD.findall(text.lower(), 0, limit * 16)[:limit]


def _shingles(ids: list[int]) -> set[int]:
    """Signed 64-bit hashes of the word pairs (of the single word if there is only one).

    Tuples of ints hash the same in every process, unlike strings.
    """
    if len(ids) == 1:
        return {hash((ids[0],))}
    return set(map(hash, zip(ids, ids[1:], strict=False)))
