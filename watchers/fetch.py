"""Fetching feeds: one async HTTP client per batch, bounded in every direction.

Every source gets a result, never an exception: the cycle records errors as feed
health and carries on with the other sources. A fetch is bounded by connect and
read timeouts, by an overall deadline (a server dripping one byte a second
cannot hold the cycle), and by a body-size cap that also applies to what a
compressed body (gzip, deflate, and br or zstd when their decoders are
installed) inflates to. Redirects are followed by hand so that only permanent
ones (301/308) move the stored URL and loops are cut short.

Each host gets its own limit (`HostLimit`, in fetch_settings.py): how many requests at once and how
far apart they start. The hosts that serve query feeds, where one config has
many feeds on one host, have theirs built in (`AGGREGATOR_HOSTS`). Such a host's
feeds share one rate limit: once it answers 429 (or 503 with a Retry-After), it
is left alone for the rest of the cycle. Elsewhere a 429 concerns its one feed.
"""

from __future__ import annotations

import asyncio
import random
import time
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Literal, Protocol, cast
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from allywatch.watchers.fetch_limits import FetchOptions, HostRule

# Optional decoders: br and zstd are advertised only when they can be decoded.
try:
    import brotli
except ImportError:
    brotli = None
try:
    import zstandard
except ImportError:
    zstandard = None  # type: ignore[assignment]  # checked before use, as brotli

Status = Literal["ok", "not-modified", "error"]

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_CODES = frozenset({301, 308})
OK_CODES = frozenset({200, 203})
MAX_POLL_DELAY = timedelta(hours=6)
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
# Headers describing the transfer, not the (decoded) body handed to the parser.
_TRANSFER_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


@dataclass(frozen=True)
class FetchRequest:
    """One source to fetch, with the validators kept from its last 200 answer."""

    name: str
    location: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """What happened when fetching one source.

    `final_location` differs from the request's location only after a permanent
    redirect (301/308), and is then the URL to store for the next poll.
    `etag`/`last_modified` come from a 200 answer; otherwise they are the
    request's values carried over, so storing them is always right.
    """

    name: str
    status: Status
    body: bytes | None
    headers: dict[str, str]
    final_location: str
    etag: str | None
    last_modified: str | None
    error_kind: str | None
    error: str | None
    retry_after: timedelta | None
    elapsed: float


class FetchFailure(Exception):
    """A fetch that ends in an error result of a given kind."""

    def __init__(self, kind: str, message: str, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


@dataclass
class _Answer:
    """The parts of a result worked out while fetching (the rest comes from the request)."""

    status: Status
    location: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None


async def fetch_all(
    requests: Sequence[FetchRequest], settings: FetchOptions | None = None
) -> list[FetchResult]:
    """Fetch every request concurrently with one client; results come back in the same
    order. `settings`: the config's (fetch_limits.FetchOptions), else the defaults.

    Never raises for a single bad source: its result has status "error".
    """
    if settings is None:
        from allywatch.watchers.fetch_settings import FetchSettings

        settings = FetchSettings()
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    timeout = httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.read_timeout,
        pool=settings.deadline,
    )
    headers = {
        "User-Agent": settings.user_agent,
        "Accept": ACCEPT,
        "Accept-Encoding": ACCEPT_ENCODING,
    }
    slots = asyncio.Semaphore(settings.concurrency)
    async with httpx.AsyncClient(
        limits=limits, timeout=timeout, headers=headers, follow_redirects=False
    ) as client:
        fetcher = _Fetcher(client, settings, slots)
        return list(await asyncio.gather(*(fetcher.fetch(request) for request in requests)))


def fetch_all_sync(
    requests: Sequence[FetchRequest], settings: FetchOptions | None = None
) -> list[FetchResult]:
    """`fetch_all` for callers without an event loop."""
    return asyncio.run(fetch_all(requests, settings))


def next_poll_delay(
    consecutive_failures: int,
    retry_after: timedelta | None,
    interval: timedelta,
    rng: random.Random | None = None,
    max_delay: timedelta = MAX_POLL_DELAY,
) -> timedelta:
    """How long to wait before polling a source again.

    A healthy source waits its interval. After n failures in a row it waits
    interval * 2**(n-1), stretched by up to 50% of random jitter so that sources
    failing together do not return together, and never less than a Retry-After
    the server asked for. The wait never exceeds max(max_delay, interval), so a
    source is never parked for good: it is polled again when its backoff ends.
    """
    if consecutive_failures < 0:
        raise ValueError("consecutive_failures must not be negative")
    ceiling = max(max_delay, interval)
    if consecutive_failures == 0:
        delay = interval
    else:
        rng = rng or random.Random()
        # Computed in float seconds: huge failure counts must not overflow timedelta.
        backoff = interval.total_seconds() * 2.0 ** min(consecutive_failures - 1, 64)
        seconds = min(ceiling.total_seconds(), backoff) * rng.uniform(1.0, 1.5)
        delay = timedelta(seconds=min(seconds, ceiling.total_seconds()))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, ceiling)


def parse_retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """A Retry-After header (seconds or an HTTP date) as a non-negative delay."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - (now or datetime.now(UTC)))


class _HostGate:
    """One host's share of a cycle: its `HostLimit`; for a host with a limit of its own,
    closed for the rest of the cycle once the host asks to be left alone."""

    def __init__(self, host: str, limit: HostRule, shared_rate: bool) -> None:
        self.host = host
        self.shared_rate = shared_rate
        self.slots = asyncio.Semaphore(limit.per_host)
        self.spacing = limit.spacing
        self.next_start = 0.0  # loop time before which no request may start
        self.closed: FetchFailure | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold one of the host's slots, from the request's spaced start until it ends."""
        async with self.slots:
            self._check()
            if self.spacing:
                now = asyncio.get_running_loop().time()
                start = max(now, self.next_start)
                self.next_start = start + self.spacing
                await asyncio.sleep(start - now)
                self._check()
            yield

    def close_after(self, failure: FetchFailure) -> None:
        """Send nothing more to the host this cycle if `failure` is the host asking for
        that: a 429, or a 503 with a Retry-After."""
        if not self.shared_rate:
            return
        if failure.kind == "http-429" or (failure.kind == "http-503" and failure.retry_after):
            code = failure.kind.removeprefix("http-")
            self.closed = FetchFailure(
                "rate-limited",
                f"not requested: {self.host} answered HTTP {code} to another source in this cycle",
                failure.retry_after,
            )

    def _check(self) -> None:
        if self.closed is not None:
            raise FetchFailure(self.closed.kind, str(self.closed), self.closed.retry_after)


class _Fetcher:
    def __init__(
        self, client: httpx.AsyncClient, settings: FetchOptions, slots: asyncio.Semaphore
    ) -> None:
        self.client = client
        self.settings = settings
        self.slots = slots
        self.gates: dict[str, _HostGate] = {}

    def gate(self, host: str) -> _HostGate:
        if host not in self.gates:
            limit = self.settings.limit_for(host)
            self.gates[host] = _HostGate(host, limit, shared_rate=host in self.settings.hosts)
        return self.gates[host]

    async def fetch(self, request: FetchRequest) -> FetchResult:
        started = time.monotonic()
        try:
            if _is_http(request.location):
                gate = self.gate(_host_of(request.location))
                # Wait for the host's turn before taking a global slot, so that
                # sources queued behind a busy host do not idle global slots.
                async with gate.turn(), self.slots:
                    started = time.monotonic()
                    try:
                        async with asyncio.timeout(self.settings.deadline):
                            answer = await self._http(request)
                    except FetchFailure as failure:
                        gate.close_after(failure)
                        raise
            else:
                async with self.slots:
                    started = time.monotonic()
                    answer = await asyncio.to_thread(_read_file, request, self.settings.max_bytes)
        except FetchFailure as failure:
            return _error(request, failure, started)
        except TimeoutError:
            timeout = FetchFailure(
                "timeout", f"no complete answer within the {self.settings.deadline:g}s deadline"
            )
            return _error(request, timeout, started)
        except httpx.HTTPError as exc:
            return _error(request, _classify(exc, self.settings), started)
        except httpx.InvalidURL as exc:
            return _error(request, FetchFailure("bad-url", str(exc)), started)
        except Exception as exc:  # a bad source must never stop the cycle
            internal = FetchFailure("internal", f"{type(exc).__name__}: {exc}")
            return _error(request, internal, started)
        return FetchResult(
            name=request.name,
            status=answer.status,
            body=answer.body,
            headers=answer.headers,
            final_location=answer.location,
            etag=answer.etag if answer.status == "ok" else request.etag,
            last_modified=answer.last_modified if answer.status == "ok" else request.last_modified,
            error_kind=None,
            error=None,
            retry_after=None,
            elapsed=time.monotonic() - started,
        )

    async def _http(self, request: FetchRequest) -> _Answer:
        conditional = {}
        if request.etag:
            conditional["If-None-Match"] = request.etag
        if request.last_modified:
            conditional["If-Modified-Since"] = request.last_modified
        url = request.location
        stored = url  # moves along permanent redirects until the first temporary one
        permanent = True
        visited = [url]
        for _ in range(self.settings.max_redirects + 1):
            response = await self.client.send(
                self.client.build_request("GET", url, headers=conditional), stream=True
            )
            try:
                code = response.status_code
                if code in REDIRECT_CODES:
                    target = response.headers.get("location")
                    if not target:
                        raise FetchFailure(f"http-{code}", f"HTTP {code} without a Location header")
                    url = str(response.url.join(target))
                    if not _is_http(url):
                        raise FetchFailure("bad-url", f"redirected to {url!r}, not an http(s) URL")
                    permanent = permanent and code in PERMANENT_REDIRECT_CODES
                    if permanent:
                        stored = url
                    if url in visited:
                        chain = " -> ".join([*visited[visited.index(url) :], url])
                        raise FetchFailure("redirect-loop", f"redirect loop: {chain}")
                    visited.append(url)
                    continue
                headers = _body_headers(response)
                if code == 304:
                    return _Answer("not-modified", stored, headers=headers)
                if code not in OK_CODES:
                    retry_after = None
                    if code in (429, 503):
                        retry_after = parse_retry_after(response.headers.get("retry-after"))
                    reason = response.reason_phrase or ""
                    raise FetchFailure(f"http-{code}", f"HTTP {code} {reason}".strip(), retry_after)
                body = await _read_body(response, self.settings.max_bytes)
                return _Answer(
                    "ok",
                    stored,
                    body=body,
                    headers=headers,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
            finally:
                await response.aclose()
        raise FetchFailure(
            "redirect-loop",
            f"more than {self.settings.max_redirects} redirects: {' -> '.join(visited)}",
        )


def _host_of(url: str) -> str:
    try:
        host = urlsplit(url).hostname
    except ValueError as exc:
        raise FetchFailure("bad-url", f"{url!r} is not a valid URL: {exc}") from None
    if not host:
        raise FetchFailure("bad-url", f"{url!r} has no host name")
    return host.lower()


def _is_http(location: str) -> bool:
    return location[:8].lower().startswith(("http://", "https://"))


def _error(request: FetchRequest, failure: FetchFailure, started: float) -> FetchResult:
    return FetchResult(
        name=request.name,
        status="error",
        body=None,
        headers={},
        final_location=request.location,
        etag=request.etag,
        last_modified=request.last_modified,
        error_kind=failure.kind,
        error=str(failure),
        retry_after=failure.retry_after,
        elapsed=time.monotonic() - started,
    )


def _classify(exc: httpx.HTTPError, settings: FetchOptions) -> FetchFailure:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchFailure("timeout", f"no connection within {settings.connect_timeout:g}s")
    if isinstance(exc, httpx.ReadTimeout):
        return FetchFailure("timeout", f"the server sent nothing for {settings.read_timeout:g}s")
    if isinstance(exc, httpx.TimeoutException):
        return FetchFailure("timeout", f"timed out: {detail}")
    if isinstance(exc, httpx.ConnectError):
        return FetchFailure("connect", f"cannot connect: {detail}")
    if isinstance(exc, httpx.ProtocolError):
        return FetchFailure("protocol", f"malformed HTTP answer: {detail}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchFailure("bad-url", detail)
    if isinstance(exc, httpx.DecodingError):
        return FetchFailure("bad-encoding", detail)
    return FetchFailure("network", detail)


def _body_headers(response: httpx.Response) -> dict[str, str]:
    """Response headers for the parser: lower-case keys, the body's own URL as Content-Location."""
    headers = {key.lower(): value for key, value in response.headers.items()}
    for key in _TRANSFER_HEADERS:
        headers.pop(key, None)
    own = headers.get("content-location")
    headers["content-location"] = str(response.url.join(own)) if own else str(response.url)
    return headers


async def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, refused as soon as it is known to exceed `max_bytes`."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchFailure(
            "too-large", f"Content-Length {declared} exceeds the {max_bytes}-byte limit"
        )
    decoder = _decoder_for(response.headers.get("content-encoding", ""))
    body = bytearray()
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > max_bytes:
            raise FetchFailure("too-large", f"body exceeds the {max_bytes}-byte limit")
        body += decoder.feed(chunk, max_bytes - len(body))
    body += decoder.finish(max_bytes - len(body))
    return bytes(body)


class _Decoder(Protocol):
    """Streams one content coding, never producing more than the room it is given.

    `room` is how many more decoded bytes the body may take; a decoder raises
    FetchFailure("too-large") as soon as its output would not fit, and
    FetchFailure("bad-encoding") for input it cannot decode.
    """

    def feed(self, data: bytes, room: int) -> bytes: ...

    def finish(self, room: int) -> bytes: ...


def _too_large() -> FetchFailure:
    return FetchFailure("too-large", "compressed body inflates past the size limit")


def _undecodable(coding: str, exc: Exception) -> FetchFailure:
    return FetchFailure("bad-encoding", f"cannot decode {coding} body: {exc}")


class _Identity:
    def feed(self, data: bytes, room: int) -> bytes:
        if len(data) > room:
            raise FetchFailure("too-large", f"body exceeds the limit by {len(data) - room} bytes")
        return data

    def finish(self, room: int) -> bytes:
        return b""


class _Zlib:
    """gzip, or deflate (zlib-wrapped as meant, or raw as some servers send it)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.decoder: zlib._Decompress | None = None

    def feed(self, data: bytes, room: int) -> bytes:
        if self.decoder is None:
            self.decoder = zlib.decompressobj(self._wbits(data))
        try:
            # Ask for one byte more than fits: getting it proves the body is too large.
            out = self.decoder.decompress(data, room + 1)
        except zlib.error as exc:
            raise _undecodable(self.coding, exc) from None
        if len(out) > room or self.decoder.unconsumed_tail:
            raise _too_large()
        return out

    def finish(self, room: int) -> bytes:
        if self.decoder is None:
            return b""
        out = self.decoder.flush()
        if len(out) > room:
            raise _too_large()
        return out

    def _wbits(self, first: bytes) -> int:
        if self.coding != "deflate":
            return zlib.MAX_WBITS | 16
        zlib_wrapped = (
            len(first) >= 2 and first[0] & 0x0F == 8 and ((first[0] << 8) | first[1]) % 31 == 0
        )
        return zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS


class _Brotli:
    """br, drained in bounded pieces: one small input chunk can expand to gigabytes."""

    PIECE = 1 << 16  # output asked for per call (brotli rounds it up to its buffer blocks)

    def __init__(self) -> None:
        self.decoder = brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        out = bytearray()
        try:
            piece = self.decoder.process(data, output_buffer_limit=min(room + 1, self.PIECE))
            # Output held back by the limit comes out of calls with empty input; new input
            # may only be given once a call returns nothing more.
            while piece:
                out += piece
                if len(out) > room:
                    raise _too_large()
                if self.decoder.is_finished():
                    break
                piece = self.decoder.process(
                    b"", output_buffer_limit=min(room + 1 - len(out), self.PIECE)
                )
        except brotli.error as exc:
            raise _undecodable("br", exc) from None
        return bytes(out)

    def finish(self, room: int) -> bytes:
        return b""


class _Zstd:
    """zstd, written into a sink that refuses output past the room it was given."""

    # RFC 9659: a zstd content coding uses at most an 8 MiB window; larger ones are refused
    # rather than allocated.
    MAX_WINDOW = 8 << 20

    def __init__(self) -> None:
        self.sink = _CappedSink()
        self.writer = zstandard.ZstdDecompressor(max_window_size=self.MAX_WINDOW).stream_writer(
            # The stubs ask for a whole IO[bytes]; the writer only calls the sink's write().
            cast("IO[bytes]", self.sink),
            write_size=1 << 16,
        )

    def feed(self, data: bytes, room: int) -> bytes:
        self.sink.room = room
        try:
            self.writer.write(data)
        except zstandard.ZstdError as exc:
            raise _undecodable("zstd", exc) from None
        return self.sink.take()

    def finish(self, room: int) -> bytes:
        return b""


class _CappedSink:
    """Where the zstd writer puts decoded output; raising here stops the decoder mid-call."""

    def __init__(self) -> None:
        self.room = 0
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        if len(self.buffer) + len(data) > self.room:
            raise _too_large()
        self.buffer += data
        return len(data)

    def take(self) -> bytes:
        out = bytes(self.buffer)
        self.buffer.clear()
        return out


def _available_decoders() -> dict[str, Callable[[], _Decoder]]:
    """The content codings this installation decodes, in the order they are advertised."""
    decoders: dict[str, Callable[[], _Decoder]] = {
        "gzip": lambda: _Zlib("gzip"),
        "deflate": lambda: _Zlib("deflate"),
    }
    # Without a bounded-output API (brotli 1.2) a br body could not be capped.
    if brotli is not None and hasattr(brotli.Decompressor, "can_accept_more_data"):
        decoders["br"] = _Brotli
    if zstandard is not None:
        decoders["zstd"] = _Zstd
    return decoders


_DECODERS = _available_decoders()
_ALIASES = {"x-gzip": "gzip"}
ACCEPT_ENCODING = ", ".join(_DECODERS)


def _decoder_for(header: str) -> _Decoder:
    codings = [c.strip().lower() for c in header.split(",") if c.strip()]
    codings = [_ALIASES.get(c, c) for c in codings if c != "identity"]
    if not codings:
        return _Identity()
    if len(codings) == 1 and codings[0] in _DECODERS:
        return _DECODERS[codings[0]]()
    raise FetchFailure("bad-encoding", f"unsupported Content-Encoding {header!r}")


def _read_file(request: FetchRequest, max_bytes: int) -> _Answer:
    """A local feed file; its modification time and size act as the ETag."""
    location = request.location
    if location.lower().startswith("file://"):
        path = Path(url2pathname(urlsplit(location).path))
    else:
        path = Path(location).expanduser()
    try:
        stat = path.stat()
        if not path.is_file():
            raise FetchFailure("read-error", f"{path} is not a regular file")
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        if request.etag == etag:
            return _Answer("not-modified", location, etag=etag)
        if stat.st_size > max_bytes:
            raise FetchFailure(
                "too-large", f"{path} is {stat.st_size} bytes, over the {max_bytes}-byte limit"
            )
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise FetchFailure("not-found", f"no such file: {path}") from None
    except OSError as exc:
        raise FetchFailure("read-error", f"cannot read {path}: {exc.strerror or exc}") from None
    if len(body) > max_bytes:
        raise FetchFailure("too-large", f"{path} is over the {max_bytes}-byte limit")
    headers = {"content-location": path.resolve().as_uri()}
    mtime = datetime.fromtimestamp(stat.st_mtime, UTC)
    last_modified = mtime.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return _Answer(
        "ok", location, body=body, headers=headers, etag=etag, last_modified=last_modified
    )


__all__ = [
    "FetchFailure",
    "FetchRequest",
    "FetchResult",
    "fetch_all",
    "fetch_all_sync",
    "next_poll_delay",
    "parse_retry_after",
]
