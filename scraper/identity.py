"""Per-source identity rules: when two URLs are the same item.

By default an item's identity is its canonical URL (scraper.urls.canonical_url). A source
can say more in config.yaml:

    identity:
      rewrite:                       # applied in order to the canonical URL
        - pattern: "^https://knoca\\.eu/event/"
          replace: "https://www.knoca.eu/events/"
      id_pattern: "\\.(\\d+)\\.html$"  # group 1 is a stable id: the key is "id:<group 1>"

so SKR's `<slug>.<id>.html` keeps its identity when the slug is edited, OECD's 8-hex code
joins the several URL shapes of one publication, and KNOCA's old and new URL schemes
fold into one item.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from scraper.urls import canonical_url

if TYPE_CHECKING:
    from collections.abc import Callable

    from scraper.spec import IdentityRule

# (rewrites as (pattern, replacement) pairs, id_pattern): an IdentityRule without pydantic.
IdentityParts = tuple[tuple[tuple[str, str], ...], str | None]


def identity_function(rule: IdentityRule | None) -> Callable[[str], str]:
    """The function turning an item URL into its identity key under `rule`."""
    return identity_from_parts(identity_parts(rule))


def identity_parts(rule: IdentityRule | None) -> IdentityParts:
    """A rule as plain strings, as a listing job carries it to a worker process."""
    if rule is None:
        return (), None
    return tuple((r.pattern, r.replace) for r in rule.rewrite), rule.id_pattern


def identity_from_parts(parts: IdentityParts) -> Callable[[str], str]:
    """identity_function for a rule given as plain strings."""
    rewrite, id_text = parts
    if not rewrite and id_text is None:
        return canonical_url
    rewrites = [(re.compile(pattern), replacement) for pattern, replacement in rewrite]
    id_pattern = re.compile(id_text) if id_text else None

    def identity(url: str) -> str:
        key = canonical_url(url)
        for pattern, replacement in rewrites:
            key = pattern.sub(replacement, key)
        key = canonical_url(key)
        if id_pattern is not None:
            match = id_pattern.search(key)
            if match:
                return f"id:{match.group(1)}"
        return key

    return identity
