"""What each worker thread crawls with: one event loop, one Fetcher, one shared-budget limiter.

They live as long as the thread (a pool process, or a thread of the threads pool), not one
run: a run then costs no new HTTP client (its TLS context alone takes tens of
milliseconds) and robots.txt is read once a day per host (RFC 9309 caching, as
scraper.robots keeps it) rather than once per run. A new config rebuilds them.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from radar.distributed.limiter import RedisHostLimiter
from scraper.fetch import Fetcher

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

    from redis.asyncio import Redis

    from radar.distributed.settings import DistributedSettings
    from scraper.spec import CrawlerSettings

T = TypeVar("T")


@dataclass
class Crawler:
    """An event loop and the Fetcher, Redis client and limiter that belong to it."""

    runner: asyncio.Runner
    key: tuple[object, ...]
    fetcher: Fetcher
    client: Redis
    limiter: RedisHostLimiter

    def run(self, make: Callable[[Fetcher], Coroutine[Any, Any, T]]) -> T:
        return self.runner.run(make(self.fetcher))

    def close(self) -> None:
        async def close() -> None:
            await self.fetcher.__aexit__(None, None, None)
            await self.limiter.aclose()
            await self.client.aclose()

        try:
            self.runner.run(close())
        finally:
            self.runner.close()


def open_crawler(
    crawler: CrawlerSettings,
    settings: DistributedSettings,
    *,
    redis_url: str,
    host_map: dict[str, str] | None,
) -> Crawler:
    from redis.asyncio import Redis

    runner = asyncio.Runner()
    client = Redis.from_url(redis_url)
    limiter = RedisHostLimiter(
        client,
        prefix=settings.key_prefix,
        delay=crawler.host_delay,
        concurrency=crawler.host_concurrency,
        lease=settings.slot_lease,
    )
    fetcher = Fetcher(crawler, host_map=host_map, limiter=limiter)
    return Crawler(runner, crawler_key(crawler, settings), fetcher, client, limiter)


def crawler_key(crawler: CrawlerSettings, settings: DistributedSettings) -> tuple[object, ...]:
    return (crawler, settings.key_prefix, settings.slot_lease)


class ThreadCrawlers:
    """One Crawler per thread, remade when the crawler settings change."""

    def __init__(self, *, redis_url: str, host_map: dict[str, str] | None) -> None:
        self._redis_url, self._host_map = redis_url, host_map
        self._local = threading.local()

    def get(self, crawler: CrawlerSettings, settings: DistributedSettings) -> Crawler:
        current: Crawler | None = getattr(self._local, "crawler", None)
        if current is not None and current.key == crawler_key(crawler, settings):
            return current
        if current is not None:
            current.close()
        current = open_crawler(
            crawler, settings, redis_url=self._redis_url, host_map=self._host_map
        )
        self._local.crawler = current
        return current
