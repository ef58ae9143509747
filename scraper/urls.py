"""URL rules: making links absolute, deciding which links we may follow, and item identity.

An item's identity is its canonical URL, so every way the web spells the same address
(tracking parameters, fragments, default ports, a trailing slash, upper-case host) must
collapse to one string, or editors would see the same item announced twice.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

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

    `javascript:`, `data:`, `mailto:` and the like are dropped here, once, so no later
    stage can follow or publish them.
    """
    if not href:
        return None
    href = "".join(ch for ch in href.strip() if ch >= " ")
    if not href or href.startswith("#"):
        return None
    joined = urljoin(base, href)
    parts = urlsplit(joined)
    if parts.scheme not in FOLLOWABLE_SCHEMES or not parts.hostname:
        return None
    if len(joined) > MAX_URL_LENGTH:
        return None
    return joined


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
    port = parts.port
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    path = parts.path or "/"
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
