"""Canonical article links: one spelling per article, whichever feed it came through.

The same article arrives with campaign parameters (utm_*, BBC's at_*, fbclid,
...), with upper-case host names, fragments, default ports, or behind a Google
redirect. The canonical form drops all of that so that links can be compared
and the outlet read from the host.
"""

from __future__ import annotations

import base64
import binascii
import re
from functools import cache
from urllib.parse import parse_qsl, unquote_plus, urlsplit, urlunsplit

from publicsuffixlist import PublicSuffixList

# Query parameters that only say how the reader arrived, never which article it is.
TRACKING_PARAMS = frozenset(
    {
        "_ga", "_gl", "cmp", "cmpid", "dclid", "fbclid", "gclid", "gclsrc", "guccounter",
        "igshid", "mc_cid", "mc_eid", "mkt_tok", "msclkid", "ocid", "oc", "rss", "rssfeed",
        "s_cid", "smid", "smtyp", "sr_share", "taid", "wt.mc_id", "wt_mc", "yclid",
        "__twitter_impression", "ito", "src", "partner", "feedtype", "ref_src",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "at_", "ns_", "pk_", "mtm_", "hsa_", "vero_")
GOOGLE_NEWS_HOSTS = frozenset({"news.google.com"})
# Feeds of these hosts collect other outlets' articles (Google News, GDELT searches).
AGGREGATOR_HOSTS = GOOGLE_NEWS_HOSTS | {"api.gdeltproject.org"}
GOOGLE_REDIRECT_HOSTS = frozenset({"www.google.com", "google.com", "news.google.com"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_URL_IN_BYTES = re.compile(rb"https?://[\x21-\x7e]+")


def canonical_link(url: str) -> str:
    """`url` without tracking parameters, fragment, default port or host case; redirects resolved.

    Google redirect links (google.com/url?q=..., Google News links carrying the
    article URL) are replaced by the article URL they point to. Anything that is
    not an absolute http(s) URL comes back stripped but otherwise unchanged.
    """
    return canonical_link_and_outlet(url)[0]


def canonical_link_and_outlet(url: str) -> tuple[str, str]:
    """`canonical_link(url)` and its `outlet_of`, splitting the URL once."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url, ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return url, ""
    target = _google_target(host, parts.path, parts.query)
    if target is not None and target != url:
        return canonical_link_and_outlet(target)
    # Pairs are kept as written: re-encoding them could change what the server sees.
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not _is_tracking(unquote_plus(pair.split("=", 1)[0]))
    )
    # The netloc is rebuilt from host and port: credentials in a feed link are
    # never meant for readers and stay out of stored links and digests.
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, query, "")), host.removeprefix("www.")


def registrable_domain(url: str) -> str:
    """The domain a link's owner registered ("news.bbc.co.uk" -> "bbc.co.uk"), read with
    the Public Suffix List bundled with `publicsuffixlist` (no network); "" for a link
    with no such domain (an IP address, "localhost", a local file)."""
    host = outlet_of(url).rstrip(".")
    if not host or ":" in host or host.replace(".", "").isdigit():
        return ""
    return _public_suffixes().privatesuffix(host) or ""


@cache
def _public_suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def outlet_of(url: str) -> str:
    """The outlet a link belongs to: its host name without a leading "www."."""
    try:
        host = (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _google_target(host: str, path: str, query: str) -> str | None:
    """The article URL a Google redirect link carries, if it carries one."""
    if host not in GOOGLE_REDIRECT_HOSTS:
        return None
    if path in ("/url", "/news/url"):
        params = dict(parse_qsl(query))
        target = params.get("url") or params.get("q")
        if target and target.startswith(("http://", "https://")):
            return target
        return None
    if host in GOOGLE_NEWS_HOSTS and "/articles/" in path:
        return _decode_article_id(path.rsplit("/", 1)[-1])
    return None


def _decode_article_id(article_id: str) -> str | None:
    """Older Google News article ids are base64 protobufs holding the article URL in clear.

    Newer ids are opaque (resolving them needs a request to Google); for those
    None is returned and the caller falls back to the feed's <source> element.
    """
    padded = article_id + "=" * (-len(article_id) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError):
        return None
    found = _URL_IN_BYTES.search(raw)
    if found is None:
        return None
    # The URL is a length-prefixed protobuf string (field tag 0x22, then a varint).
    start = found.start()
    candidate = found.group(0)
    if start >= 2 and raw[start - 2] == 0x22 and raw[start - 1] < 0x80:
        candidate = raw[start : start + raw[start - 1]]
    elif start >= 3 and raw[start - 3] == 0x22 and raw[start - 2] >= 0x80:
        length = (raw[start - 2] & 0x7F) | (raw[start - 1] << 7)
        candidate = raw[start : start + length]
    try:
        return candidate.decode("ascii")
    except UnicodeDecodeError:
        return None
