"""URL rules: making links absolute, deciding which links we may follow, and item identity.

An item's identity is its canonical URL, so every way the web spells the same address
(tracking parameters, fragments, default ports, a trailing slash, upper-case host) must
collapse to one string, or editors would see the same item announced twice.
"""

from __future__ import annotations

import functools
import re
import string
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

if TYPE_CHECKING:
    from urllib.parse import SplitResult

MAX_URL_LENGTH = 2048

# Parameters that say where a click came from, never what the page is.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_ga", "_hsenc", "_hsmi", "igshid"}
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
FOLLOWABLE_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}


def absolute_url(base: str, href: str | None) -> str | None:
    """Resolve `href` against the page URL; None for links that are not web pages.

    `javascript:`, `data:`, `mailto:`, malformed hosts and ports are dropped here, once,
    so no later stage can follow or publish them, and one bad link never fails a page.
    """
    if not href:
        return None
    href = _C0_CONTROLS.sub("", href.strip())
    if not href or href.startswith("#"):
        return None
    if _PLAIN_ROOT_PATH.fullmatch(href) and "/." not in href and (origin := _origin(base)):
        joined = origin + href  # what urljoin gives, without parsing either side again
        return joined if len(joined) <= MAX_URL_LENGTH else None
    try:
        parts = urlsplit(urljoin(base, href))
        hostname, _ = _host_and_port(parts)  # raises ValueError for a bad port
        # Without a ":" an href has no scheme of its own, so it needs no parse of its own.
        own = urlsplit(href) if ":" in href else None
    except ValueError:
        return None
    valid = parts.scheme in FOLLOWABLE_SCHEMES and bool(hostname)
    if own is not None and own.scheme:
        valid = valid and own.netloc != ""  # "http:x" names no host
    if not valid:
        return None
    try:
        path, query = _encode(parts.path), _encode(parts.query)
    except UnicodeEncodeError:
        return None  # a lone surrogate (JSON can carry one) has no UTF-8 form
    joined = urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))
    return joined if len(joined) <= MAX_URL_LENGTH else None


# Most links on a listing: a path from the root with nothing to quote, and no query,
# fragment, dot segment ("/." sends a link the long way) or ";" (urljoin reads it as the
# start of path parameters, and drops empty ones). Resolved, such a path is the page's
# scheme and host in front of it.
_PLAIN_ROOT_PATH = re.compile(r"/[A-Za-z0-9_.~!$&'()*+,=:@%-][A-Za-z0-9_.~!$&'()*+,=:@%/-]*|/")


@functools.lru_cache(maxsize=256)
def _origin(base: str) -> str | None:
    """The "scheme://netloc" in front of root paths resolved against `base`, or None when
    the long way must decide. Cached: every link on a page shares its base."""
    try:
        parts = urlsplit(base)
        hostname, _ = _host_and_port(parts)
    except ValueError:
        return None
    if parts.scheme not in FOLLOWABLE_SCHEMES or not hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}"


# Browsers drop tabs, newlines and other C0 controls inside an href; so do we.
_C0_CONTROLS = re.compile(r"[\x00-\x1f]+")

# A netloc that is only a plain host name and at most a 4-digit port (never out of range):
# its host and port are read off in one match rather than by SplitResult's `hostname` and
# `port`, which partition the netloc again for each. Anything else takes the properties.
_PLAIN_NETLOC = re.compile(r"([A-Za-z0-9.-]*)(?::([0-9]{1,4}))?")


def _host_and_port(parts: SplitResult) -> tuple[str | None, int | None]:
    """`(parts.hostname, parts.port)`, with the same ValueError for a bad port."""
    plain = _PLAIN_NETLOC.fullmatch(parts.netloc)
    if plain is None:
        return parts.hostname, parts.port
    host, port = plain.groups()
    return host.lower() or None, None if port is None else int(port)


# Characters left alone when percent-encoding a path or query: RFC 3986 reserved and
# unreserved ones, and "%" itself so existing escapes survive.
_SAFE = "/?:@!$&'()*+,;=~-._%"
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# A component made only of characters `quote` never touches (its always-safe letters,
# digits and "_.-~", plus _SAFE) comes back from it unchanged: most links on a page.
_ALWAYS_SAFE = string.ascii_letters + string.digits + "_.-~"
_NOTHING_TO_QUOTE = re.compile(f"[{re.escape(_ALWAYS_SAFE + _SAFE)}]*")


def _encode(component: str) -> str:
    """Percent-encode what a browser would (spaces, non-ASCII), keeping existing escapes."""
    if _NOTHING_TO_QUOTE.fullmatch(component):
        return component  # spares quote's round trip through bytes
    return quote(component, safe=_SAFE)


def _normal_escape(match: re.Match[str]) -> str:
    """One escape: decoded when it stands for an unreserved character, else upper-cased."""
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else f"%{match.group(1).upper()}"


def _normal_escapes(component: str) -> str:
    """RFC 3986 6.2.2: upper-case escapes, and decode the ones for unreserved characters."""
    encoded = _encode(component)
    if "%" not in encoded:
        return encoded  # no escapes, nothing to normalise
    return _ESCAPE.sub(_normal_escape, encoded)


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _canonical_query(query: str) -> str:
    """The query without tracking parameters, the rest sorted."""
    if not query:
        return ""  # most item links: nothing to parse, filter or sort
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(sorted((k, v) for k, v in pairs if not _is_tracking(k)))


# A URL already in identity form but perhaps for its port and a trailing slash: lower-case
# scheme and host, a path with nothing to quote or unescape, no query or fragment.
_NEARLY_CANONICAL = re.compile(
    r"(https?)://([a-z0-9-]+(?:\.[a-z0-9-]+)*)(?::([0-9]{1,5}))?(/[A-Za-z0-9_.~!$&'()*+,;=:@/-]*)?"
)
MAX_PORT = 65535


def canonical_url(url: str) -> str:
    """The identity form of a URL: same page, same string.

    Lower-case scheme and host, no default port, no fragment, no tracking parameters,
    remaining parameters sorted, and no trailing slash (except for the root path).
    """
    nearly = _NEARLY_CANONICAL.fullmatch(url)
    if nearly:
        scheme, host, digits, path = nearly.groups()
        port = int(digits) if digits else None
        if port is None or port <= MAX_PORT:  # a bad port: the long way raises
            # Only the port and a trailing slash may change. Returned as `url` itself when
            # nothing does, so the key and the URL of an item share one string.
            canonical = f"{scheme}://{_netloc(scheme, host, port)}{_unslashed(path or '')}"
            return url if canonical == url else canonical
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    hostname, port = _host_and_port(parts)
    host = (hostname or "").lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    netloc, path = _netloc(scheme, host, port), _unslashed(_normal_escapes(parts.path))
    return urlunsplit((scheme, netloc, path, _canonical_query(parts.query), ""))


def _netloc(scheme: str, host: str, port: int | None) -> str:
    """The host, and the port unless it is the scheme's default."""
    return host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"


def _unslashed(path: str) -> str:
    """The path without a trailing slash; the root path (or none) is "/"."""
    return path.rstrip("/") or "/"


def host_of(url: str) -> str:
    """The lower-case host name of a URL ('' when there is none)."""
    return (urlsplit(url).hostname or "").lower()


def is_allowed(url: str, allowed_domains: tuple[str, ...]) -> bool:
    """True when the URL's host is one of the domains or a sub-domain of one."""
    host = host_of(url)
    return any(host == domain or host.endswith("." + domain) for domain in allowed_domains)
