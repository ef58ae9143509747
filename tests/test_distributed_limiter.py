"""The shared per-host limiter against the real Redis of this machine.

Grant times come from the Redis clock (the limiter's own), so spacing is checked exactly;
concurrency is checked from each holder's own interval, which a correct limiter keeps
disjoint beyond `concurrency` at once.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from typing import TYPE_CHECKING

import pytest
from redis.asyncio import Redis

from radar.distributed.limiter import Grant, RedisHostLimiter
from tests.distributed_support import REDIS_URL, Namespace, forget_keys, hammer, need

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

HOST = "example.org"
EPSILON = 1e-6  # Redis TIME has microseconds


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    need("Redis", "127.0.0.1", 6379)
    namespace = Namespace.fresh()
    yield namespace.prefix
    forget_keys(namespace.prefix)


async def limiter(prefix: str, **options: float) -> RedisHostLimiter:
    values = {"delay": 0.05, "concurrency": 2, **options}
    return RedisHostLimiter(
        Redis.from_url(REDIS_URL),
        prefix=prefix,
        delay=values["delay"],
        concurrency=int(values["concurrency"]),
        lease=values.get("lease", 30.0),
        poll=0.01,
    )


async def close(*limiters: RedisHostLimiter) -> None:
    for one in limiters:
        await one.aclose()
        await one._client.aclose()


def gaps(grants: list[float]) -> list[float]:
    times = sorted(grants)
    return [b - a for a, b in itertools.pairwise(times)]


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


async def test_two_limiters_share_one_pause_and_one_concurrency_cap(prefix: str) -> None:
    one, two = await limiter(prefix), await limiter(prefix)
    held = 0
    most = 0
    grants: list[Grant] = []

    async def request(through: RedisHostLimiter) -> None:
        nonlocal held, most
        async with through.slot(HOST):
            held += 1
            most = max(most, held)
            await asyncio.sleep(0.12)  # longer than two pauses: the cap must bind
            held -= 1

    async def granted(through: RedisHostLimiter) -> None:
        grant = await through.acquire(HOST)
        grants.append(grant)
        await through.release(grant)

    try:
        await asyncio.gather(*(request(through) for through in (one, two) * 6))
        await asyncio.gather(*(granted(through) for through in (one, two) * 6))
    finally:
        await close(one, two)

    assert most == 2
    assert min(gaps([g.at for g in grants])) >= 0.05 - EPSILON


def test_two_processes_keep_the_pause_and_the_cap_together(prefix: str) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(hammer, [(REDIS_URL, prefix, HOST, 8)] * 2)
    intervals = [interval for result in results for interval in result]

    assert len(intervals) == 16
    assert min(gaps([start for start, _ in intervals])) >= 0.05 - EPSILON
    assert most_at_once(intervals) <= 2


async def test_a_cool_down_holds_every_limiter_back(prefix: str) -> None:
    one, two = await limiter(prefix), await limiter(prefix)
    try:
        first = await one.acquire(HOST)
        await one.release(first)
        one.cool_down(HOST, 0.4)
        await one.aclose()  # the cool-down is written
        second = await two.acquire(HOST)
        await two.release(second)
    finally:
        await close(one, two)

    assert second.at - first.at >= 0.4 - 0.01


async def test_a_crawl_delay_one_limiter_learns_holds_for_all(prefix: str) -> None:
    one, two = await limiter(prefix), await limiter(prefix)
    try:
        one.set_delay(HOST, 0.3)
        grants = []
        for through in (one, two, one, two):
            grant = await through.acquire(HOST)
            await through.release(grant)
            grants.append(grant.at)
    finally:
        await close(one, two)

    assert min(gaps(grants)) >= 0.3 - EPSILON


async def test_the_slot_of_a_dead_holder_frees_itself_after_its_lease(prefix: str) -> None:
    dead = await limiter(prefix, concurrency=1, lease=0.5, delay=0.0)
    alive = await limiter(prefix, concurrency=1, lease=0.5, delay=0.0)
    try:
        lost = await dead.acquire(HOST)  # never released: its worker was killed
        started = time.monotonic()
        grant = await alive.acquire(HOST)
        await alive.release(grant)
    finally:
        await close(dead, alive)

    assert grant.at - lost.at >= 0.5 - EPSILON
    assert time.monotonic() - started < 5
