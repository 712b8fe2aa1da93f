"""`allywatch subscribers add / remove / list`: what is stored, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from digestkit import SIGNAL, cli, token_for, write_config


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    return write_config(tmp_path, database=database_url)


def listed(config: Path) -> list[dict]:
    result = cli(config, "subscribers", "list", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_add_list_remove(config: Path) -> None:
    added = cli(
        config, "subscribers", "add", "Ann.Editor@Example.ORG", "--signals", SIGNAL,
        "--cadence", "weekly", "--time", "08:15", "--tz", "Europe/Berlin", "--day", "fri",
        "--all-quiet",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "subscribed ann.editor@example.org" in added.output
    cli(config, "subscribers", "add", "bob@example.org")

    [ann, bob] = listed(config)
    assert {k: ann[k] for k in ("email", "signals", "cadence", "time", "tz", "day")} == {
        "email": "ann.editor@example.org",
        "signals": [SIGNAL],
        "cadence": "weekly",
        "time": "08:15",
        "tz": "Europe/Berlin",
        "day": "fri",
    }
    assert ann["all_quiet"] and ann["active"]
    assert (bob["signals"], bob["cadence"], bob["time"], bob["tz"]) == (
        None,
        "daily",
        "07:00",
        "UTC",
    )
    table = cli(config, "subscribers", "list").output
    assert "weekly fri 08:15 Europe/Berlin" in table and "all" in table

    removed = cli(config, "subscribers", "remove", "ANN.editor@example.org")
    assert removed.exit_code == 0 and [s["email"] for s in listed(config)] == ["bob@example.org"]
    again = cli(config, "subscribers", "remove", "ann.editor@example.org")
    assert again.exit_code == 1 and "ann.editor@example.org is not a subscriber" in again.output


@pytest.mark.parametrize(
    "address",
    [
        "not-an-address",
        "two@@example.org",
        "ann@localhost",
        "ann @example.org",
        "ann@exa_mple.org",
        ".ann@example.org",
        "ann..b@example.org",
        "ann@example.org\nBcc: x@example.net",
        "ann@-example.org",
        "ann@127.0.0.1",
    ],
)
def test_bad_addresses_are_refused(config: Path, address: str) -> None:
    result = cli(config, "subscribers", "add", address)
    assert result.exit_code == 1
    assert repr(address) in result.output or repr(address.split("@")[1]) in result.output
    assert listed(config) == []


def test_an_international_domain_is_stored_in_its_ascii_form(config: Path) -> None:
    result = cli(config, "subscribers", "add", "ann@bücher.example")
    assert result.exit_code == 0, result.output
    assert listed(config)[0]["email"] == "ann@xn--bcher-kva.example"


def test_duplicates_are_refused_clearly(config: Path) -> None:
    cli(config, "subscribers", "add", "ann@example.org")
    result = cli(config, "subscribers", "add", "ANN@example.org", "--cadence", "immediate")
    assert result.exit_code == 1
    assert "ann@example.org is subscribed already" in result.output
    assert [s["cadence"] for s in listed(config)] == ["daily"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--signals", f"{SIGNAL},no-such-signal"], "unknown signal no-such-signal (known:"),
        (["--signals", ","], "--signals names no signal"),
        (["--tz", "Europe/Atlantis"], "time zone 'Europe/Atlantis': unknown"),
        (["--time", "7:00pm"], "send time '7:00pm': expected HH:MM"),
        (["--cadence", "hourly"], "'hourly' is not one of"),
        (["--day", "caturday"], "weekday 'caturday'"),
    ],
)
def test_bad_options_are_refused_by_name(config: Path, options: list[str], message: str) -> None:
    result = cli(config, "subscribers", "add", "ann@example.org", *options)
    assert result.exit_code != 0
    assert message in result.output
    assert listed(config) == []


def test_an_unsubscribed_address_is_not_silently_added_back(config: Path) -> None:
    cli(config, "subscribers", "add", "ann@example.org")
    token = token_for(config, "ann@example.org")
    assert cli(config, "unsubscribe", token).exit_code == 0

    result = cli(config, "subscribers", "add", "ann@example.org")
    assert result.exit_code == 1
    assert "ann@example.org unsubscribed on" in result.output
    assert "allywatch subscribers remove ann@example.org" in result.output
    cli(config, "subscribers", "remove", "ann@example.org")
    assert cli(config, "subscribers", "add", "ann@example.org").exit_code == 0
