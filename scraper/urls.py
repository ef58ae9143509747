"""URL rules: making links absolute, deciding which links we may follow, and item identity.

An item's identity is its canonical URL, so every way the web spells the same address
(tracking parameters, fragments, default ports, a trailing slash, upper-case host) must
collapse to one string, or editors would see the same item announced twice.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

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
    href = "".join(ch for ch in href.strip() if ch >= " ")
    if not href or href.startswith("#"):
        return None
    try:
        parts = urlsplit(urljoin(base, href))
        valid = parts.scheme in FOLLOWABLE_SCHEMES and bool(parts.hostname)
        valid = valid and urlsplit(href).netloc != "" if urlsplit(href).scheme else valid
        _ = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError:
        return None
    if not valid:
        return None
    joined = urlunsplit(
        (parts.scheme, parts.netloc, _encode(parts.path), _encode(parts.query), parts.fragment)
    )
    return joined if len(joined) <= MAX_URL_LENGTH else None


# Characters left alone when percent-encoding a path or query: RFC 3986 reserved and
# unreserved ones, and "%" itself so existing escapes survive.
_SAFE = "/?:@!$&'()*+,;=~-._%"
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _encode(component: str) -> str:
    """Percent-encode what a browser would (spaces, non-ASCII), keeping existing escapes."""
    return quote(component, safe=_SAFE)


def _normal_escapes(component: str) -> str:
    """RFC 3986 6.2.2: upper-case escapes, and decode the ones for unreserved characters."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else f"%{match.group(1).upper()}"

    return _ESCAPE.sub(fix, _encode(component))


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The identity form of a URL: same page, same string.

    Lower-case scheme and host, no default port, no fragment, no tracking parameters,
    remaining parameters sorted, and no trailing slash (except for the root path).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    port = parts.port
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    path = _normal_escapes(parts.path) or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = urlencode(
        sorted(
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
        )
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def host_of(url: str) -> str:
    """The lower-case host name of a URL ('' when there is none)."""
    return (urlsplit(url).hostname or "").lower()


def is_allowed(url: str, allowed_domains: tuple[str, ...]) -> bool:
    """True when the URL's host is one of the domains or a sub-domain of one."""
    host = host_of(url)
    return any(host == domain or host.endswith("." + domain) for domain in allowed_domains)
