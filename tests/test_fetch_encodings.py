"""br and zstd bodies: decoded like gzip, asked for only when decodable, capped when inflated."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import tracemalloc
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import brotli
import pytest
import zstandard
from feedserver import FeedServer, Reply, gzip_bomb

from allywatch.watchers.fetch import FetchRequest, fetch_all_sync
from allywatch.watchers.fetch_settings import FetchSettings
from allywatch.watchers.parse import parse_feed

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SETTINGS = FetchSettings(connect_timeout=2, read_timeout=2, deadline=10)
MIB = 1 << 20


def _feed(items: int) -> bytes:
    """An RSS feed big enough to arrive in many network chunks and decode in many pieces."""
    rng = random.Random(5)
    words = ["Су-35", "Иран", "поставка", "Tehran", "delivery", "contract", "summit", "CSTO"]
    entries = "".join(
        f"<item><title>{' '.join(rng.choices(words, k=8))} {i}</title>"
        f"<link>/news/{i}</link><guid>story-{i}</guid>"
        f"<description>{' '.join(rng.choices(words, k=60))}</description>"
        f"<pubDate>Tue, 30 Apr 2024 {i % 24:02d}:{i % 60:02d}:00 GMT</pubDate></item>"
        for i in range(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Wire</title><link>https://wire.example/</link>{entries}</channel></rss>"
    ).encode()


def _br(data: bytes) -> bytes:
    return brotli.compress(data, quality=5)


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


def br_bomb(mib: int) -> bytes:
    """A few hundred bytes of br that inflate to `mib` MiB of zeros (built a MiB at a time)."""
    compressor, block = brotli.Compressor(quality=5), bytes(MIB)
    return b"".join([compressor.process(block) for _ in range(mib)] + [compressor.finish()])


def zstd_bomb(mib: int) -> bytes:
    """A few KiB of zstd that inflate to `mib` MiB of zeros (built a MiB at a time)."""
    compressor, block = zstandard.ZstdCompressor(level=1).compressobj(), bytes(MIB)
    return b"".join([compressor.compress(block) for _ in range(mib)] + [compressor.flush()])


def test_br_and_zstd_feeds_are_parsed_the_same_as_plain(feed_server: FeedServer) -> None:
    plain = _feed(400)
    assert len(plain) > 200_000
    replies = {
        "/plain": Reply(body=plain),
        "/br": Reply(body=_br(plain), headers={"Content-Encoding": "br"}),
        "/zstd": Reply(body=_zstd(plain), headers={"Content-Encoding": "zstd"}),
    }
    requests = [FetchRequest(path, feed_server.route(path, r)) for path, r in replies.items()]
    results = {r.name: r for r in fetch_all_sync(requests, SETTINGS)}

    for name, result in results.items():
        assert result.status == "ok", (name, result.error)
        assert result.body == plain, name
        assert "content-encoding" not in result.headers, name

    def articles(name: str) -> list[tuple[str, str, datetime, str]]:
        fetched = results[name]
        parsed = parse_feed(fetched.body, fetched.headers, "Wire", feed_server.url("/x"), NOW)
        return [(a.title, a.link, a.published, a.summary) for a in parsed]

    expected = articles("/plain")
    assert len(expected) == 400
    assert expected[7][1] == feed_server.url("/news/7")
    assert articles("/br") == expected
    assert articles("/zstd") == expected


def test_every_advertised_coding_is_decoded(feed_server: FeedServer) -> None:
    body = _feed(3)
    encoders: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": _br,
        "zstd": _zstd,
    }
    url = feed_server.route("/probe", Reply(body=body))
    fetch_all_sync([FetchRequest("probe", url)], SETTINGS)
    advertised = [
        c.strip() for c in feed_server.requests_to("/probe")[0]["accept-encoding"].split(",")
    ]
    assert advertised == ["gzip", "deflate", "br", "zstd"]

    requests = [
        FetchRequest(
            coding,
            feed_server.route(
                f"/{coding}",
                Reply(body=encoders[coding](body), headers={"Content-Encoding": coding}),
            ),
        )
        for coding in advertised
    ]
    for result in fetch_all_sync(requests, SETTINGS):
        assert (result.name, result.status, result.body) == (result.name, "ok", body)


def test_without_the_decoder_packages_br_and_zstd_are_neither_asked_for_nor_accepted(
    feed_server: FeedServer,
) -> None:
    body = _feed(2)
    br_url = feed_server.route("/br", Reply(body=_br(body), headers={"Content-Encoding": "br"}))
    zstd_url = feed_server.route(
        "/zstd", Reply(body=_zstd(body), headers={"Content-Encoding": "zstd"})
    )
    script = f"""
import json, sys
sys.modules["brotli"] = sys.modules["zstandard"] = None
from allywatch.watchers.fetch import FetchRequest, fetch_all_sync
results = fetch_all_sync([FetchRequest("br", {br_url!r}), FetchRequest("zstd", {zstd_url!r})])
print(json.dumps([[r.name, r.error_kind, r.error] for r in results]))
"""
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    outcome = {name: (kind, error) for name, kind, error in json.loads(run.stdout)}
    assert outcome["br"] == ("bad-encoding", "unsupported Content-Encoding 'br'")
    assert outcome["zstd"] == ("bad-encoding", "unsupported Content-Encoding 'zstd'")
    sent = feed_server.requests_to("/br")[0]["accept-encoding"]
    assert [c.strip() for c in sent.split(",")] == ["gzip", "deflate"]


@pytest.mark.parametrize(
    ("coding", "bomb"),
    [("gzip", gzip_bomb), ("br", br_bomb), ("zstd", zstd_bomb)],
)
def test_compression_bombs_are_refused_in_bounded_memory(
    feed_server: FeedServer, coding: str, bomb: Callable[[int], bytes]
) -> None:
    inflated = 256  # MiB; the cap is 1 MB
    packed = bomb(inflated * MIB) if coding == "gzip" else bomb(inflated)
    assert len(packed) < 300_000
    url = feed_server.route("/bomb", Reply(body=packed, headers={"Content-Encoding": coding}))
    settings = FetchSettings(max_bytes=1_000_000, deadline=30)

    tracemalloc.start()
    try:
        (result,) = fetch_all_sync([FetchRequest("bomb", url)], settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.status == "error"
    assert result.error_kind == "too-large"
    assert result.body is None
    # Decoding the whole bomb would take 256 MiB; refusing it early takes a few.
    assert peak < 32 * MIB, f"peak {peak / MIB:.1f} MiB"


def test_undecodable_br_and_zstd_bodies_are_encoding_errors(feed_server: FeedServer) -> None:
    # A zstd frame asking for a 16 MiB window: RFC 9659 caps HTTP zstd at 8 MiB.
    wide = zstandard.ZstdCompressor(
        compression_params=zstandard.ZstdCompressionParameters(window_log=24)
    ).compressobj()
    wide_window = wide.compress(b"<rss/>") + wide.flush()
    replies = {
        "br": Reply(body=b"<rss>not brotli</rss>", headers={"Content-Encoding": "br"}),
        "zstd": Reply(body=b"<rss>not zstd</rss>", headers={"Content-Encoding": "zstd"}),
        "zstd-wide": Reply(body=wide_window, headers={"Content-Encoding": "zstd"}),
    }
    requests = [FetchRequest(n, feed_server.route(f"/{n}", r)) for n, r in replies.items()]
    results = {r.name: r for r in fetch_all_sync(requests, SETTINGS)}
    assert {n: r.error_kind for n, r in results.items()} == dict.fromkeys(replies, "bad-encoding")
    assert results["br"].error.startswith("cannot decode br body")
    assert results["zstd"].error.startswith("cannot decode zstd body")
    assert "memory" in results["zstd-wide"].error
