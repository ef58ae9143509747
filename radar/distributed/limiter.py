"""Per-host politeness shared by every worker: the HostLimiter's budget, kept in Redis.

The same rules as scraper.politeness.HostLimiter, for all processes on all machines at
once: request starts to one host at least `delay` seconds apart (raised, never lowered, by
robots.txt Crawl-delay; pushed back by a 429/503 cool-down), and at most `concurrency`
requests in flight to it.

Each attempt is one Lua script, atomic in Redis and timed by the Redis server's clock, so
workers on machines whose clocks differ still space their requests correctly. When a slot
is free and the host's pause is over, it takes the slot (a lease in a sorted set, so the
slot of a killed worker frees itself after `lease` seconds), starts the next pause, and the
request goes at once; otherwise it says how long to wait before trying again. Nothing is
reserved ahead: a worker that wakes late from its wait cannot then start its request
closer to the next one than the pause allows.
The `limits` library was the first candidate; its windows count whole seconds and it has
no concurrency cap or cool-down, so it cannot express "2 in flight, 0.5 s apart".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from redis.asyncio import Redis

log = logging.getLogger(__name__)

# KEYS: the host's state hash (next start, delay), its sorted set of slot leases.
# ARGV: lease token, concurrency, delay ms, lease ms, cool-down ms from now, key ttl ms.
# Times are kept in whole microseconds: Lua prints large fractional numbers imprecisely.
# Returns the server time in µs when the slot is taken (start now), -1 when every slot is
# taken, else minus the ms until the host's pause is over.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  return -1
end
local stored = tonumber(redis.call('HGET', KEYS[1], 'delay') or 0)
local delay = math.max(tonumber(ARGV[3]) * 1000, stored)
local ready = tonumber(redis.call('HGET', KEYS[1], 'next') or 0)
ready = math.max(ready, now + tonumber(ARGV[5]) * 1000)
if ready > now then
  redis.call('HSET', KEYS[1], 'next', string.format('%d', ready))
  return -math.max(2, math.ceil((ready - now) / 1000))
end
local pause_over = string.format('%d', now + delay)
redis.call('HSET', KEYS[1], 'next', pause_over, 'delay', string.format('%d', delay))
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]) * 1000, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return now
"""

# KEYS: the host's state hash. ARGV: cool-down ms from now, key ttl ms.
_COOL_DOWN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local later = now + tonumber(ARGV[1]) * 1000
if later > tonumber(redis.call('HGET', KEYS[1], 'next') or 0) then
  redis.call('HSET', KEYS[1], 'next', string.format('%d', later))
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
"""

KEY_TTL_S = 86_400  # a host nobody asked for in a day is forgotten


@dataclass(frozen=True, slots=True)
class Grant:
    """A slot taken for one request: its lease token, and when (Redis clock, seconds)."""

    host: str
    token: str
    at: float


class RedisHostLimiter:
    """A `scraper.politeness.Limiter` whose budget every process using `prefix` shares.

    One per event loop (the client is bound to it); `aclose` waits for cool-downs still
    being written. Redis being unreachable is an error, never a reason to be impolite.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str,
        delay: float,
        concurrency: int,
        lease: float = 300.0,
        poll: float = 0.05,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._delay, self._concurrency, self._lease = delay, concurrency, lease
        self._poll, self._sleep = poll, sleep
        self._acquire = client.register_script(_ACQUIRE)
        self._cool = client.register_script(_COOL_DOWN)
        self._delays: dict[str, float] = {}
        self._cool_until: dict[str, float] = {}  # time.monotonic() deadline, per host
        self._pending: set[asyncio.Task[None]] = set()

    def _keys(self, host: str) -> list[str]:
        return [f"{self._prefix}host:{host}", f"{self._prefix}slots:{host}"]

    def set_delay(self, host: str, seconds: float) -> None:
        """Raise (never lower) the pause for a host; stored for all at the next acquisition."""
        self._delays[host] = max(self._delays.get(host, 0.0), seconds)

    def cool_down(self, host: str, seconds: float) -> None:
        """No request to `host` may start within `seconds` from now, from any worker."""
        until = time.monotonic() + seconds
        self._cool_until[host] = max(self._cool_until.get(host, 0.0), until)
        # Called from synchronous code on the event loop: written in the background, so the
        # other workers hear of it now; this one also sends it with its next acquisition.
        task = asyncio.get_running_loop().create_task(self._write_cool_down(host, seconds))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write_cool_down(self, host: str, seconds: float) -> None:
        try:
            await self._cool(keys=self._keys(host)[:1], args=[_ms(seconds), KEY_TTL_S * 1000])
        except RedisError as exc:
            log.warning("cool-down of %s not shared: %s", host, exc)

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's slots, starting no sooner than its pause allows."""
        grant = await self.acquire(host)
        try:
            yield
        finally:
            # Shielded: a cancelled run must still give its slot back.
            with contextlib.suppress(RedisError, asyncio.CancelledError):
                await asyncio.shield(self.release(grant))

    async def acquire(self, host: str) -> Grant:
        """Wait until a slot is free and the host's pause over, then take the slot."""
        token, keys = uuid.uuid4().hex, self._keys(host)
        while True:
            delay = max(self._delay, self._delays.get(host, 0.0))
            cooling = max(0.0, self._cool_until.get(host, 0.0) - time.monotonic())
            args: list[str | int] = [token, self._concurrency, _ms(delay), _ms(self._lease)]
            args += [_ms(cooling), KEY_TTL_S * 1000]
            answer = int(await self._acquire(keys=keys, args=args))
            if answer > 0:  # granted: the Redis clock's time of the grant, in µs
                return Grant(host=host, token=token, at=answer / 1e6)
            # Full: poll, with jitter so waiters do not ask in lockstep. Paused: wait it out.
            full = self._poll * (0.5 + random.random())
            await self._sleep(full if answer == -1 else -answer / 1000)

    async def release(self, grant: Grant) -> None:
        await self._client.zrem(self._keys(grant.host)[1], grant.token)

    async def aclose(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
