"""Per-host politeness: at most N requests in flight to a host, and a pause between starts.

Shared by every source in one process, so two sources on the same host share one budget.
A host that answered 429 or 503 gets a cool-down before its next request.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from contextlib import AbstractAsyncContextManager


class Limiter(Protocol):
    """What the Fetcher needs of a per-host limiter: this process's `HostLimiter`, or one
    whose budget is shared by every worker (radar.distributed.limiter)."""

    def set_delay(self, host: str, seconds: float) -> None: ...

    def cool_down(self, host: str, seconds: float) -> None: ...

    def slot(self, host: str) -> AbstractAsyncContextManager[None]: ...


@dataclass
class _HostState:
    slots: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    delay: float = 0.0


class HostLimiter:
    """Spaces out request starts per host and caps concurrency per host."""

    def __init__(
        self,
        *,
        delay: float,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._delay = delay
        self._concurrency = concurrency
        self._clock = clock
        self._sleep = sleep
        self._hosts: dict[str, _HostState] = {}

    def _state(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            state = _HostState(slots=asyncio.Semaphore(self._concurrency), delay=self._delay)
            self._hosts[host] = state
        return state

    def set_delay(self, host: str, seconds: float) -> None:
        """Raise (never lower) the pause for a host, e.g. to honour robots.txt Crawl-delay."""
        state = self._state(host)
        state.delay = max(state.delay, seconds)

    def cool_down(self, host: str, seconds: float) -> None:
        """No request to `host` may start within `seconds` from now."""
        state = self._state(host)
        state.next_start = max(state.next_start, self._clock() + seconds)

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's slots, starting no sooner than its pause allows."""
        state = self._state(host)
        async with state.slots:
            async with state.lock:
                wait = state.next_start - self._clock()
                if wait > 0:
                    await self._sleep(wait)
                state.next_start = self._clock() + state.delay
            yield
