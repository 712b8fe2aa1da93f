"""Near-duplicate grouping: copies of one wire story count once, different stories don't merge."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from allywatch.watchers.dedup import StoryGrouper

WIRE = (
    "Iran takes delivery of first Su-35 fighter jets from Russia",
    "Iran has received the first batch of Russian Su-35 fighter jets, state television "
    "reported on Tuesday, in a deal that deepens military ties between Tehran and Moscow "
    "despite Western sanctions.",
)


def test_syndicated_copies_with_small_edits_are_one_story() -> None:
    grouper = StoryGrouper()
    first = grouper.add("reuters-1", *WIRE)
    copies = [
        (
            "Iran takes delivery of first Su-35 fighter jets from Russia - state TV",
            WIRE[1].replace("on Tuesday", "on Tuesday morning"),
        ),
        (
            "Iran receives first Su-35 fighter jets from Russia",
            "TEHRAN (AP) — " + WIRE[1],
        ),
        (
            "Iran takes delivery of first Su-35 fighter jets from Russia",
            "",  # a headline-only item
        ),
        (
            "Iran takes delivery of first Su-35 fighter jets from Russia",
            WIRE[1][:90],  # a trimmed summary
        ),
    ]
    keys = [grouper.add(f"copy-{i}", title, summary) for i, (title, summary) in enumerate(copies)]
    assert first == "reuters-1"
    assert keys == ["reuters-1"] * len(copies)


def test_different_stories_on_the_same_subject_stay_apart() -> None:
    grouper = StoryGrouper()
    a = grouper.add("a", *WIRE)
    b = grouper.add(
        "b",
        "Russia denies plans to deliver Su-35 jets to Iran this year",
        "The Kremlin said on Wednesday it had no plans to deliver Su-35 fighter jets to "
        "Iran this year, contradicting earlier reports from Tehran.",
    )
    c = grouper.add(
        "c",
        "Power of Siberia 2 talks stall over gas price",
        "Gazprom and CNPC have yet to agree on the price of gas for the Power of Siberia 2 "
        "pipeline, people familiar with the talks said.",
    )
    assert len({a, b, c}) == 3


def test_shared_boilerplate_does_not_make_items_one_story() -> None:
    boilerplate = (
        "Subscribe to our channel for daily news. Follow us on Twitter, Facebook and "
        "Telegram. Support independent journalism: become a member today."
    )
    grouper = StoryGrouper()
    keys = {
        grouper.add("1", "Armenia freezes its CSTO participation", boilerplate),
        grouper.add("2", "Kazakhstan president skips Minsk summit", boilerplate),
        grouper.add("3", "Gas flows begin through new pipeline", boilerplate),
    }
    assert len(keys) == 3


def test_a_recurring_headline_with_new_numbers_is_a_new_story() -> None:
    summary = "The latest news on the war in one place, updated through the day."
    grouper = StoryGrouper()
    day_199 = grouper.add("199", "War in Ukraine: day 199 of the invasion, live", summary)
    day_200 = grouper.add("200", "War in Ukraine: day 200 of the invasion, live", summary)
    assert day_199 != day_200


def test_adding_an_article_again_returns_its_story_and_changes_nothing() -> None:
    grouper = StoryGrouper()
    grouper.add("a", *WIRE)
    grouper.add("b", WIRE[0] + " - report", WIRE[1])
    assert grouper.add("b", "completely different text", "") == "a"
    assert grouper.story_of("b") == "a"
    assert grouper.story_of("unknown") is None
    assert len(grouper) == 2


def test_articles_without_words_are_their_own_story() -> None:
    grouper = StoryGrouper()
    assert grouper.add("x", "", "") == "x"
    assert grouper.add("y", "!!!", "...") == "y"


def synthetic_news(n: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(5000)]
    return [
        (
            f"story-{i}",
            " ".join(rng.choices(vocabulary, k=10)),
            " ".join(rng.choices(vocabulary, k=40)),
        )
        for i in range(n)
    ]


def edited(title: str, summary: str, rng: random.Random) -> tuple[str, str]:
    """An outlet's copy: one headline word replaced, a few summary words changed, tail cut."""
    t = title.split()
    t[rng.randrange(len(t))] = "edited"
    s = summary.split()
    for _ in range(3):
        s[rng.randrange(len(s))] = "changed"
    return " ".join(t), " ".join(s[: len(s) - rng.randrange(5)])


def test_copies_are_found_among_thousands_of_unrelated_articles() -> None:
    rng = random.Random(3)
    originals = synthetic_news(3000, seed=1)
    grouper = StoryGrouper()
    for uid, title, summary in originals:
        assert grouper.add(uid, title, summary) == uid  # no false merges
    for uid, title, summary in rng.sample(originals, 100):
        copy = edited(title, summary, rng)
        assert grouper.add(f"copy-of-{uid}", *copy) == uid


def test_a_rebuilt_grouper_makes_the_same_decisions_in_another_process(tmp_path: Path) -> None:
    rng = random.Random(5)
    rows = synthetic_news(300, seed=2)
    rows += [(f"copy-{uid}", *edited(t, s, rng)) for uid, t, s in rows[:40]]
    rows_file = tmp_path / "rows.json"
    rows_file.write_text(json.dumps(rows))
    script = (
        "import json, sys\n"
        "from watchers.dedup import StoryGrouper\n"
        "rows = json.load(open(sys.argv[1]))\n"
        "g = StoryGrouper.from_rows(rows)\n"
        "print(json.dumps([g.story_of(uid) for uid, _, _ in rows]))\n"
    )
    stories = []
    for seed in ("1", "2"):  # str hashing differs between the two processes
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script, str(rows_file)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        stories.append(json.loads(out.stdout))
    assert stories[0] == stories[1]
    assert stories[0][300:] == [uid for uid, _, _ in rows[:40]]


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError, match="threshold"):
        StoryGrouper(threshold=0)
    with pytest.raises(ValueError, match="title_overlap"):
        StoryGrouper(title_overlap=1.5)


def test_restored_articles_keep_their_stored_story_and_new_copies_join_it() -> None:
    # The story's first article is outside the restored window; its key lives on.
    grouper = StoryGrouper()
    grouper.restore("copy-1", WIRE[0] + " - state TV", WIRE[1], story="original-from-last-month")
    grouper.restore("other", "Gas talks stall", "No deal on price yet.", story="other")
    assert grouper.story_of("copy-1") == "original-from-last-month"
    assert grouper.add("copy-2", *WIRE) == "original-from-last-month"
    assert grouper.add("new", "Armenia skips CSTO summit", "") == "new"
