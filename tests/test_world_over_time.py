"""Three years of CSTO summits, replayed through `backtest` and through real cycles.

Members skip a summit and come back, Armenia freezes its participation and
takes part again, a single outlet's rumour of a withdrawal moves nothing, a
report surfaces in its feed two days late, and a source is added half-way.
Each entity's state is checked after each summit, and which alerts were
announced.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from feedserver import FeedServer
from newsworld import NewsWorld, Story, run_at

from allywatch.cli import main

CSTO = "csto-summit-attendance"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def took_part(leader: str, country: str, city: str) -> tuple[str, str]:
    return (
        f"{leader} attends the CSTO summit in {city}",
        f"{country}'s leader took part in the summit of the Collective Security Treaty"
        " Organization.",
    )


def skipped(leader: str, country: str, city: str) -> tuple[str, str]:
    return (
        f"{leader} skips the CSTO summit in {city}",
        f"{country}'s leader did not attend the summit of the Collective Security Treaty"
        " Organization.",
    )


STORIES = [
    # 2023: Minsk. Armenia stays away.
    Story("wire", at("2023-11-23T10:00"), *took_part("Tokayev", "Kazakhstan", "Minsk")),
    Story("wire", at("2023-11-23T12:00"), *skipped("Pashinyan", "Armenia", "Minsk")),
    # 2024: Armenia freezes its participation.
    Story(
        "eurasia",
        at("2024-02-22T09:00"),
        "Armenia freezes its participation in the CSTO",
        "Yerevan suspended its participation in the Collective Security Treaty Organization.",
    ),
    # 2024: Astana. Kyrgyzstan stays away; the report surfaces two days late.
    Story("wire", at("2024-11-28T10:00"), *took_part("Tokayev", "Kazakhstan", "Astana")),
    Story(
        "wire",
        at("2024-11-28T11:00"),
        *skipped("Japarov", "Kyrgyzstan", "Astana"),
        surfaces=at("2024-11-30T06:00"),
    ),
    # 2025: one outlet's rumour of a withdrawal (a critical state needs corroboration).
    Story(
        "blog",
        at("2025-03-01T08:00"),
        "Armenia leaves the CSTO, a Telegram channel claims",
        "Yerevan has withdrawn from the Collective Security Treaty Organization, the channel said.",
    ),
    # 2025: Bishkek. Armenia takes part again, Kyrgyzstan hosts; "regional" is added
    # before it, with an old report of the Astana summit.
    Story("regional", at("2024-11-28T12:00"), *skipped("Japarov", "Kyrgyzstan", "Astana")),
    Story("wire", at("2025-11-27T10:00"), *took_part("Pashinyan", "Armenia", "Bishkek")),
    Story("regional", at("2025-11-27T11:00"), *took_part("Japarov", "Kyrgyzstan", "Bishkek")),
    Story("wire", at("2025-11-27T12:00"), *took_part("Tokayev", "Kazakhstan", "Bishkek")),
]

# The state of each watched member on dates after each summit (and the freeze).
EXPECTED = {
    at("2023-11-24T00:00"): {"Armenia": "absent", "Kazakhstan": "attending"},
    at("2024-02-23T00:00"): {"Armenia": "suspended", "Kazakhstan": "attending"},
    at("2024-11-30T12:00"): {"Armenia": "suspended", "Kyrgyzstan": "absent"},
    at("2025-03-02T00:00"): {"Armenia": "suspended", "Kyrgyzstan": "absent"},
    at("2025-11-28T00:00"): {
        "Armenia": "attending",
        "Kyrgyzstan": "attending",
        "Kazakhstan": "attending",
    },
}


def state_at(transitions: list[dict], entity: str, moment: datetime) -> str:
    state = "attending"
    for t in transitions:
        if t["signal"] == CSTO and t["entity"] == entity and at(t["at"][:19]) <= moment:
            state = t["to"]
    return state


def test_backtest_follows_the_members_over_three_years(tmp_path: Path) -> None:
    archive = tmp_path / "csto.jsonl"
    archive.write_text(
        "".join(
            json.dumps(
                {
                    "title": s.title,
                    "summary": s.summary,
                    "link": f"https://{s.outlet}.example.com/news/{i}",
                    "published": s.published.isoformat(),
                    "source": s.outlet,
                }
            )
            + "\n"
            for i, s in enumerate(STORIES)
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main,
        ["--config", str(tmp_path / "none.yaml"), "backtest", str(archive), "--json"],
    )
    assert result.exit_code == 0, result.output
    transitions = json.loads(result.output)
    for moment, states in EXPECTED.items():
        for entity, state in states.items():
            assert (moment, entity, state_at(transitions, entity, moment)) == (
                moment,
                entity,
                state,
            )
    assert not any(t["to"] == "withdrawn" for t in transitions)


def states(config: Path) -> dict[str, str]:
    result = CliRunner().invoke(main, ["--config", str(config), "status", "--json"])
    assert result.exit_code == 0, result.output
    return {r["entity"]: r["state"] for r in json.loads(result.output) if r["signal"] == CSTO}


def announced(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("ALERT [") and CSTO in line]


def test_cycles_over_three_years_announce_each_change_once(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    world = NewsWorld.of_stories(feed_server, STORIES)
    first = ["wire", "eurasia", "blog"]
    config = world.config(tmp_path, database=database_url, outlets=first)
    assert run_at(config, world, at("2023-11-01T00:00")) == ""  # the baseline: nothing yet

    def run(moment: str) -> list[str]:
        output = announced(run_at(config, world, at(moment)))
        current = states(config)
        for entity, state in EXPECTED.get(at(moment), {}).items():
            assert (moment, entity, current[entity]) == (moment, entity, state)
        return output

    assert run("2023-11-24T00:00") == [f"ALERT [info] {CSTO} / Armenia: attending -> absent"]
    assert run("2024-02-23T00:00") == [f"ALERT [warning] {CSTO} / Armenia: absent -> suspended"]
    assert run("2024-11-29T00:00") == []  # Japarov's absence has not surfaced yet
    # Dated two days before, learnt of now: announced.
    assert run("2024-11-30T12:00") == [f"ALERT [info] {CSTO} / Kyrgyzstan: attending -> absent"]
    assert run("2025-03-02T00:00") == []  # one outlet's rumour of a withdrawal
    world.config(tmp_path, database=database_url, outlets=[*first, "regional"])
    assert run("2025-06-01T00:00") == []  # its old report changes nothing
    lapsed = run("2025-06-20T00:00")
    assert lapsed == [f"ALERT [info] {CSTO} / Kyrgyzstan: absent -> attending (lapsed)"]
    returned = run("2025-11-28T00:00")  # Armenia takes part again: the freeze is over
    assert [line for line in returned if "Armenia" in line] == [
        f"ALERT [warning] {CSTO} / Armenia: suspended -> attending (superseded)"
    ]
