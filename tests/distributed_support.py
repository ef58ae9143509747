"""Helpers of the scale-out tests: brokers and Redis on this machine, synthetic sources,
`radar worker` subprocesses, and reading the fixture server's request log.

Every test gets its own queue and Redis key prefix, so parallel runs never meet; both are
removed afterwards. Nothing leaves loopback.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.conftest import ROOT, Entry, ListingSite
from tests.db_fixtures import _in_ci

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from radar.fixture_server import FixtureServer, RecordedRequest

AMQP_URL = os.environ.get("RADAR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS_URL = os.environ.get("RADAR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Redis as broker keeps shared bookkeeping keys (unacked…): a database of its own.
REDIS_BROKER_URL = os.environ.get("RADAR_TEST_REDIS_BROKER_URL", "redis://127.0.0.1:6379/1")
DEADLINE = 60.0


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def need(service: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) when a service of this machine is not running."""
    if reachable(host, port):
        return
    message = f"{service} on {host}:{port} unreachable"
    if _in_ci():
        pytest.fail(f"CI must run the scale-out tests: {message}")
    pytest.skip(message)


@dataclass(frozen=True)
class Namespace:
    """One test's own queue and Redis key prefix."""

    queue: str
    prefix: str

    @classmethod
    def fresh(cls) -> Namespace:
        tag = uuid.uuid4().hex[:12]
        return cls(queue=f"radar-test-{tag}", prefix=f"radar-test-{tag}:")


def forget(namespace: Namespace, *, broker_url: str = AMQP_URL) -> None:
    """Delete the test's queue and Redis keys."""
    from kombu import Connection

    with Connection(broker_url) as connection:
        channel = connection.channel()
        try:
            channel.queue_delete(namespace.queue)
            channel.exchange_delete(namespace.queue)
        except Exception:  # already gone: nothing to forget
            pass
    forget_keys(namespace.prefix)
    if broker_url.startswith("redis"):  # kombu's bindings of the queue's exchange
        forget_keys(f"_kombu.binding*.{namespace.queue}", redis_url=broker_url)


def forget_keys(pattern: str, *, redis_url: str = REDIS_URL) -> None:
    """Delete the keys that start with `pattern` (a glob)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{pattern}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def hammer(redis_url: str, prefix: str, host: str, count: int) -> list[tuple[float, float]]:
    """In a process of its own: `count` requests at once through one limiter, each held
    0.12 s; their (grant, end) times on the Redis clock, the end read before release."""
    import asyncio

    from redis.asyncio import Redis

    from radar.distributed.limiter import RedisHostLimiter

    async def run() -> list[tuple[float, float]]:
        client = Redis.from_url(redis_url)
        limiter = RedisHostLimiter(client, prefix=prefix, delay=0.05, concurrency=2, poll=0.01)

        async def one() -> tuple[float, float]:
            grant = await limiter.acquire(host)
            await asyncio.sleep(0.12)
            seconds, micros = await client.time()
            await limiter.release(grant)
            return grant.at, seconds + micros / 1e6

        try:
            return list(await asyncio.gather(*(one() for _ in range(count))))
        finally:
            await client.aclose()

    return asyncio.run(run())


# --- Synthetic sources: small listing sites on many hosts, one listing per source. ---


@dataclass(frozen=True)
class Synthetic:
    """`count` sources spread over `hosts` hosts; snapshot-2 adds one item to each.
    The `slow` hosts ask for a Crawl-delay of `crawl_delay` seconds in their robots.txt.

    Each source's listing has `pages` pages of `per_page` items, newest first (so the new
    item of snapshot-2 moves every page along), each padded with `pad` bytes of the
    navigation and footer markup real pages carry around their items.
    """

    root: Path
    count: int
    hosts: int
    slow: frozenset[str] = frozenset()
    crawl_delay: float = 0.0
    pages: int = 1
    per_page: int = 2
    pad: int = 0

    def host(self, index: int) -> str:
        return f"h{index % self.hosts:02d}.test"

    def name(self, index: int) -> str:
        return f"s{index:03d}"

    def path(self, index: int) -> str:
        return f"/{self.name(index)}/list/"

    def entries(self, index: int, snapshot: int) -> list[Entry]:
        count = self.pages * self.per_page
        entries = [
            Entry(f"{self.name(index)}-{n}", f"Titel {index} nr. {n}") for n in range(1, count + 1)
        ]
        if snapshot >= 2:
            entries.insert(0, Entry(f"{self.name(index)}-new", f"Nyt fra kilde {index}"))
        return entries

    def new_url(self, index: int) -> str:
        return f"https://{self.host(index)}/items/{self.name(index)}-new/"

    def write(self) -> None:
        page = ListingSite(self.root).page
        for snapshot in (1, 2):
            for host in self.slow:
                robots = self.root / f"snapshot-{snapshot}" / host / "robots.txt"
                robots.parent.mkdir(parents=True, exist_ok=True)
                robots.write_text(f"User-agent: *\nCrawl-delay: {self.crawl_delay}\n")
            for index in range(self.count):
                self._write_listing(index, snapshot, page)

    def _write_listing(self, index: int, snapshot: int, page: Callable[..., bytes]) -> None:
        entries = self.entries(index, snapshot)
        listing = self.root / f"snapshot-{snapshot}" / self.host(index) / self.path(index)[1:]
        padding = f"<nav>{'<a href=/om/>Om os</a> ' * (self.pad // 24)}</nav>".encode()
        for number in range(1, self.pages + 1):
            target = listing / (f"page/{number}" if number > 1 else "")
            target.mkdir(parents=True, exist_ok=True)
            first = (number - 1) * self.per_page
            last = len(entries) if number == self.pages else first + self.per_page
            body = page(
                entries[first:last],
                next_page=number + 1 if number < self.pages else None,
                encoding="utf-8",
                listing=self.path(index),
            )
            (target / "index.html").write_bytes(body.replace(b"<body>", b"<body>" + padding))

    def listing(self, index: int) -> bytes:
        return (
            self.root / "snapshot-2" / self.host(index) / self.path(index)[1:] / "index.html"
        ).read_bytes()

    def sources(self) -> list[dict[str, Any]]:
        return [
            {
                "name": self.name(i),
                "kind": "html",
                "url": f"https://{self.host(i)}{self.path(i)}",
                "language": "da",
                "item": "li.item",
                "fields": {"title": "h3 a", "link": "h3 a @href", "summary": "p"},
                "next_page": "a.next @href",
            }
            for i in range(self.count)
        ]

    def resolve(self, server: FixtureServer) -> list[str]:
        hosts = sorted({self.host(i) for i in range(self.count)})
        return [arg for host in hosts for arg in ("--resolve", f"{host}={server.address}")]


def write_config(
    path: Path,
    sources: Sequence[dict[str, Any]],
    namespace: Namespace,
    *,
    crawler: dict[str, Any],
    distributed: dict[str, Any] | None = None,
) -> Path:
    raw = {
        "crawler": {
            "contact_url": "https://example.dk/kontakt/",
            "timeout": 10,
            "max_attempts": 3,
            "backoff_initial": 0.05,
            "backoff_max": 0.2,
            **crawler,
        },
        "feed": {"out_dir": str(path.parent / "feeds")},
        "sources": list(sources),
        "scheduler": {"jitter": 0},
        "distributed": {
            "queue": namespace.queue,
            "key_prefix": namespace.prefix,
            **(distributed or {}),
        },
    }
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- Worker processes ---


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as a machine that dies would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=DEADLINE)


@dataclass
class Workers:
    running: list[Worker] = field(default_factory=list)

    def start(
        self,
        name: str,
        *,
        config: Path,
        engine: Engine,
        log_dir: Path,
        args: Iterable[str] = (),
        broker_url: str = AMQP_URL,
    ) -> Worker:
        env = {
            **os.environ,
            "RADAR_DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "RADAR_BROKER_URL": broker_url,
            "RADAR_REDIS_URL": REDIS_URL,
        }
        log = log_dir / f"{name}.log"
        command = [sys.executable, "-m", "radar", "--log-level", "info", "worker"]
        command += ["--config", str(config), "--hostname", f"{name}@test", *args]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() takes the pool too
            )
        worker = Worker(name, process, log)
        self.running.append(worker)
        return worker

    def kill(self) -> None:
        for worker in self.running:
            if worker.process.poll() is None:
                worker.kill()

    def stop(self) -> None:
        for worker in self.running:
            if worker.process.poll() is None:
                os.killpg(worker.process.pid, signal.SIGTERM)
        for worker in self.running:
            try:
                worker.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()

    def holding(self, dispatch_id: str) -> Worker:
        for worker in self.running:
            if dispatch_id in worker.text():
                return worker
        raise AssertionError(f"no worker received {dispatch_id}")


def wait_until(check: Callable[[], bool], what: str, *, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def workers() -> Iterator[Workers]:
    group = Workers()
    try:
        yield group
    finally:
        group.stop()


# --- Reading the request log ---


def most_in_flight(requests: Sequence[RecordedRequest], *, latency: float) -> int:
    """Most requests in flight at once, each taken as [arrival, arrival + latency)."""
    edges = sorted(
        [(r.time, 1) for r in requests] + [(r.time + latency, -1) for r in requests],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same instant
    )
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def gaps(requests: Sequence[RecordedRequest]) -> list[float]:
    times = sorted(r.time for r in requests)
    return [b - a for a, b in itertools.pairwise(times)]


def held_page_taken(server: FixtureServer, host: str, path: str) -> bool:
    """True once the fault scripted for host+path was taken by a request (and is being
    served, slowly): the server logs a request only when it answers it."""
    return not server._faults.get((host, path))


def most_in_window(requests: Sequence[RecordedRequest], *, window: float) -> int:
    """Most requests that arrived within any `window` seconds."""
    times = sorted(r.time for r in requests)
    most, first = 0, 0
    for last, arrived in enumerate(times):
        while arrived - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most
