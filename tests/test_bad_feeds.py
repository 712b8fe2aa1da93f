"""A corpus of broken and hostile feeds, served over real HTTP to a real `allywatch run`.

Every one of them must be survived: the run finishes, the good feed next to
them is stored, and each broken feed's fate is in feed health. None of them may
make allywatch read a local file: an external entity pointing at a secret file
must never bring the secret into the database.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from pathlib import Path

import pytest
from feedserver import FeedServer, Reply
from procs import allywatch

RSS = "application/rss+xml; charset=utf-8"
GOOD_ITEMS = [
    ("Kazakhstan hosts trade fair", "https://news.example.com/a/1"),
    ("Armenia reviews its alliances", "https://news.example.com/a/2"),
]


def rss(items: list[tuple[str, str]], *, prolog: str = "", extra: str = "") -> str:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link>"
        f"<pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate>{extra}</item>"
        for title, link in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}'
        f'<rss version="2.0"><channel><title>t</title><link>https://news.example.com/</link>'
        f"{body}</channel></rss>"
    )


def billion_laughs() -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    prolog = "<!DOCTYPE rss [\n" + "\n".join(levels) + "\n]>\n"
    return rss([("&lol9;", "https://laughs.example.com/1")], prolog=prolog).encode()


def corpus(secret: Path) -> dict[str, tuple[Reply, str]]:
    """name -> (reply, fate): "fails" must be recorded as failing; "either" may be recovered."""
    uri = secret.as_uri()
    rng = random.Random(7)
    good = rss(GOOD_ITEMS[:1]).encode()
    return {
        "empty": (Reply(body=b"", headers={"Content-Type": RSS}), "fails"),
        "whitespace": (Reply(body=b"  \n\t ", headers={"Content-Type": RSS}), "fails"),
        "garbage": (Reply(body=bytes(rng.getrandbits(8) for _ in range(4096))), "fails"),
        "png": (
            Reply(body=b"\x89PNG\r\n\x1a\n" + bytes(200), headers={"Content-Type": "image/png"}),
            "fails",
        ),
        "html-page": (
            Reply(
                body=b"<!doctype html><html><head><title>Welcome</title></head>"
                b"<body><h1>Site moved</h1><p>Nothing here.</p></body></html>",
                headers={"Content-Type": "text/html; charset=utf-8"},
            ),
            "fails",
        ),
        "json": (
            Reply(body=b'{"items": [1, 2, 3]}', headers={"Content-Type": "application/json"}),
            "fails",
        ),
        "truncated": (Reply(body=good[: len(good) // 2], headers={"Content-Type": RSS}), "either"),
        "latin1-as-utf8": (
            Reply(
                body=rss([("Caf\u00e9 in Astana", "https://enc.example.com/1")]).encode("latin-1"),
                headers={"Content-Type": RSS},
            ),
            "either",
        ),
        "cp1251-as-utf8": (
            Reply(
                body=rss([("Поставки Су-35 в Иран", "https://enc.example.com/2")])
                .replace('encoding="utf-8"', 'encoding="windows-1251"')
                .encode("utf-8"),
                headers={"Content-Type": "application/rss+xml; charset=windows-1251"},
            ),
            "either",
        ),
        "unknown-charset": (
            Reply(
                body=rss([("Unknown charset", "https://enc.example.com/3")]).encode(),
                headers={"Content-Type": "application/rss+xml; charset=x-no-such-charset"},
            ),
            "either",
        ),
        "nul-bytes": (
            Reply(body=good.replace(b"<title>", b"<title>\x00\x01\x02", 1)),
            "either",
        ),
        "fake-gzip": (
            Reply(body=good, headers={"Content-Type": RSS, "Content-Encoding": "gzip"}),
            "either",
        ),
        "double-gzip": (
            Reply(
                body=gzip.compress(gzip.compress(good)),
                headers={"Content-Type": RSS, "Content-Encoding": "gzip"},
            ),
            "either",
        ),
        "deep-nesting": (
            Reply(body=rss([]).replace("<channel>", "<channel>" + "<x>" * 50_000).encode()),
            "either",
        ),
        "billion-laughs": (Reply(body=billion_laughs(), headers={"Content-Type": RSS}), "either"),
        "xxe-entity": (
            Reply(
                body=rss(
                    [("Leak &xxe; here", "https://xxe.example.com/1")],
                    prolog=f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{uri}">]>\n',
                    extra="<description>&xxe;</description>",
                ).encode(),
                headers={"Content-Type": RSS},
            ),
            "either",
        ),
        "xxe-parameter": (
            Reply(
                body=rss(
                    [("Parameter entity", "https://xxe.example.com/2")],
                    prolog=f'<!DOCTYPE rss [<!ENTITY % ext SYSTEM "{uri}"> %ext;]>\n',
                ).encode(),
                headers={"Content-Type": RSS},
            ),
            "either",
        ),
        "xxe-dtd": (
            Reply(
                body=rss(
                    [("External DTD &secret;", "https://xxe.example.com/3")],
                    prolog=f'<!DOCTYPE rss SYSTEM "{uri}">\n',
                ).encode(),
                headers={"Content-Type": RSS},
            ),
            "either",
        ),
        "xinclude": (
            Reply(
                body=rss(
                    [("XInclude", "https://xxe.example.com/4")],
                    extra=f'<description><xi:include xmlns:xi="http://www.w3.org/2001/XInclude"'
                    f' href="{uri}" parse="text"/></description>',
                ).encode(),
                headers={"Content-Type": RSS},
            ),
            "either",
        ),
        "local-path-as-body": (Reply(body=str(secret).encode()), "fails"),
        "file-uri-as-body": (Reply(body=uri.encode()), "fails"),
    }


@pytest.fixture
def bad_world(tmp_path: Path, feed_server: FeedServer) -> tuple[Path, dict[str, str], str]:
    secret_value = "TOP-SECRET-" + os.urandom(8).hex()
    secret = tmp_path / "secret.txt"
    secret.write_text(secret_value, encoding="utf-8")
    fates = {}
    lines = ["database: sqlite:///watch.db", "sources:"]
    feed_server.route(
        "/good.xml", Reply(body=rss(GOOD_ITEMS).encode(), headers={"Content-Type": RSS})
    )
    lines.append(f"  - {{name: good, url: '{feed_server.url('/good.xml')}'}}")
    for name, (reply, fate) in corpus(secret).items():
        url = feed_server.route(f"/{name}.xml", reply)
        lines.append(f"  - {{name: {name}, url: '{url}'}}")
        fates[name] = fate
    config = tmp_path / "allywatch.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config, fates, secret_value


@pytest.mark.slow
def test_every_broken_feed_is_survived_and_recorded(
    bad_world: tuple[Path, dict[str, str], str],
) -> None:
    config, fates, _secret = bad_world
    result = allywatch(config, "run", "--clock", "2025-01-07T00:00:00")
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    health = {f["name"]: f for f in json.loads(allywatch(config, "feeds", "--json").stdout)}
    assert health["good"]["healthy"] and health["good"]["articles"] == len(GOOD_ITEMS)
    for name, fate in fates.items():
        feed = health[name]
        assert feed["last_success_at"] or feed["last_error_at"], f"{name}: not recorded"
        if fate == "fails":
            assert not feed["healthy"], f"{name}: taken for a feed"
            assert feed["last_error"], f"{name}: failing without a reason"
            assert f"{name!r}" in result.stderr, f"{name}: failure not reported"
        if not feed["healthy"]:
            assert feed["error_kind"] and feed["next_poll_at"], f"{name}: no retry planned"

    # A second run, once the failing sources are due again, survives them the same way.
    again = allywatch(config, "run", "--clock", "2025-01-08T00:00:00")
    assert again.returncode == 3, again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.slow
def test_no_local_file_is_ever_read_through_a_feed(
    bad_world: tuple[Path, dict[str, str], str],
) -> None:
    config, _fates, secret = bad_world
    allywatch(config, "run", "--clock", "2025-01-07T00:00:00")
    database = config.parent / "watch.db"
    allywatch(config, "status")  # a reader, so the WAL is checkpointed into the file
    stored = b"".join(
        path.read_bytes() for path in config.parent.glob("watch.db*") if path.is_file()
    )
    assert database.exists() and b"news.example.com/a/1" in stored
    assert secret.encode() not in stored
    for command in (["alerts", "--json"], ["feeds", "--json"], ["status", "--json"]):
        assert secret not in allywatch(config, *command).stdout
