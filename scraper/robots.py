"""robots.txt rules per origin, parsed by protego and cached for a day.

What an unreadable robots.txt means follows RFC 9309: a 4xx answer means no rules
(everything allowed); a 5xx answer or no answer at all means "assume complete disallow"
until it can be read again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from protego import Protego

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

ROBOTS_TTL_SECONDS = 24 * 3600
# An unreachable robots.txt means "disallow everything" only until we look again: soon.
UNREACHABLE_TTL_SECONDS = 300
MAX_ROBOTS_BYTES = 500_000  # RFC 9309 asks crawlers to read at least 500 KiB


@dataclass(frozen=True, slots=True)
class RobotsAnswer:
    """What fetching robots.txt gave: an HTTP status and the text (None when unreachable)."""

    status: int | None
    text: str | None


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """The parsed rules of one origin, or a blanket allow / disallow."""

    parser: Protego | None
    allow_all: bool
    reason: str = "robots.txt disallows this URL"

    def allows(self, url: str, agent: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return bool(self.parser.can_fetch(url, agent))

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        return float(delay) if delay is not None else None


def rules_from(answer: RobotsAnswer) -> RobotsRules:
    """Interpret a robots.txt answer as RFC 9309 says."""
    if answer.status is not None and 200 <= answer.status < 300 and answer.text is not None:
        return RobotsRules(parser=Protego.parse(answer.text[:MAX_ROBOTS_BYTES]), allow_all=True)
    if answer.status is not None and 400 <= answer.status < 500:
        return RobotsRules(parser=None, allow_all=True)
    status = f"HTTP {answer.status}" if answer.status is not None else "no answer"
    return RobotsRules(
        parser=None,
        allow_all=False,
        reason=f"robots.txt could not be read ({status}); RFC 9309 says to fetch nothing",
    )


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


class RobotsCache:
    """Reads each origin's robots.txt once per TTL, through the fetcher it is given."""

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[RobotsAnswer]],
        *,
        ttl: float = ROBOTS_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._clock = clock
        self._rules: dict[str, tuple[float, RobotsRules]] = {}  # origin -> (expires, rules)
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules_for(self, url: str) -> RobotsRules:
        key = robots_url(url)
        # One fetch per origin even when several sources on one host start at once.
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._rules.get(key)
            if cached is not None and self._clock() < cached[0]:
                return cached[1]
            rules = rules_from(await self._fetch(key))
            readable = rules.parser is not None or rules.allow_all
            lifetime = self._ttl if readable else min(self._ttl, UNREACHABLE_TTL_SECONDS)
            self._rules[key] = (self._clock() + lifetime, rules)
            return rules
