"""The extraction worker: a child process that builds listing pages' items on another core.

A walk through a listing is sequential (each page names the next), and reading a page's
items costs as much CPU as fetching it. With a worker, the event loop reads only where a
page leads, hands the page to the child (scraper.listing_job) and goes on fetching; the
items come back while it does.

One ListingWorker serves every walk of a run (radar.pipeline.run_sources) or of a
scheduler's life, found by the walks through `current()`. Its child starts when a walk
hands over a page and exits when the last walk using it has handed over its last page, so
an idle scheduler holds no child, and a listing answered 304 throughout starts none.
Answers are kept as the child's bytes until the walk collects its items, after letting the
child go: a walk's items and the child's memory are never held at once.

A child that dies takes only its pages in flight with it: each fails with an ExtractError,
so those walks end incomplete (nothing is called removed), and the next page starts a new
child. After MAX_DEATHS deaths in one worker's life, or when no child can be started at
all, pages are read in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import mmap
import os
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radar.errors import ExtractError
from scraper.listing_job import ANSWER_HEADER, ListingJob, decode_items, listing_items, wire_frame

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator

    from scraper.normalise import Normalised

log = logging.getLogger(__name__)

MAX_DEATHS = 3
STOP_TIMEOUT = 5.0
# The checkout or site-packages folder holding the scraper package, for the child's sys.path.
PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)

_current: ContextVar[ListingWorker | None] = ContextVar("listing_worker", default=None)


def current() -> ListingWorker | None:
    """The worker serving walks in this context, if any."""
    return _current.get()


@contextlib.contextmanager
def serving(worker: ListingWorker | None) -> Iterator[None]:
    """Make `worker` the one walks started in this context (and its tasks) use."""
    token = _current.set(worker)
    try:
        yield
    finally:
        _current.reset(token)


class _Arena:
    """Answers' bytes, kept in anonymous memory maps instead of the heap.

    A walk holds its pages' answers until it collects its items. Held on the heap, a
    1,000-page walk's answers left ~3 MB of freed holes in it that the process never gave
    back (measured after the walk, against malloc_trim). A map is returned to the system
    when no answer in it is held any more.
    """

    CHUNK = 1 << 20

    def __init__(self) -> None:
        self._map: mmap.mmap | None = None
        self._used = 0

    def keep(self, payload: bytes) -> memoryview:
        size = len(payload)
        if self._map is None or self._used + size > len(self._map):
            self._map, self._used = mmap.mmap(-1, max(self.CHUNK, size)), 0
        start, self._used = self._used, self._used + size
        self._map[start : self._used] = payload
        return memoryview(self._map)[start : self._used]


class _Answer:
    """A page's items as the child's answer: kept as its bytes, decoded only when awaited."""

    def __init__(self, *, source: str, url: str) -> None:
        self._future: asyncio.Future[memoryview | Normalised] = (
            asyncio.get_running_loop().create_future()
        )
        self.source, self.url = source, url

    def __await__(self) -> Generator[Any, None, Normalised]:
        outcome = yield from self._future.__await__()
        return decode_items(outcome) if isinstance(outcome, memoryview) else outcome

    def arrived(self, ok: bool, payload: bytes, arena: _Arena) -> None:
        if ok:
            self._settle(arena.keep(payload))
        else:
            self.fail(payload.decode("utf-8", "replace"))

    def built_here(self, job: ListingJob) -> None:
        self._settle(listing_items(job))

    def fail(self, message: str) -> None:
        self._settle(ExtractError(message, source=self.source, url=self.url))

    def _settle(self, outcome: memoryview | Normalised | ExtractError) -> None:
        if self._future.done():  # the walk waiting for it was cancelled
            return
        if isinstance(outcome, ExtractError):
            self._future.set_exception(outcome)
        else:
            self._future.set_result(outcome)


class ListingWorker:
    """The parent's end of the extraction child: jobs out, answers back, matched by job id."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._starting: asyncio.Task[None] | None = None
        self._queued: list[tuple[int, ListingJob]] = []  # while the child starts
        self._answers: asyncio.Task[None] | None = None
        self._pending: dict[int, _Answer] = {}
        self._arena = _Arena()
        self._ids = itertools.count(1)
        self._walks = 0
        self._deaths = 0
        # Over this worker's life:
        self.children_started = 0
        self.pages_answered = 0

    @property
    def pid(self) -> int | None:
        """The running child's process id, if one is running."""
        return self._process.pid if self._process is not None else None

    @contextlib.asynccontextmanager
    async def walk(self) -> AsyncIterator[Callable[[], Awaitable[None]]]:
        """Hold the worker for one walk; yields `let_go`, for the walk to await once it has
        handed over its last page (leaving the context lets go too).

        The child starts with the first page handed over, so a walk answered 304 throughout
        starts none. When the last walk lets go, the child answers what it holds and exits;
        every one of that walk's answers is then in.
        """
        held = True

        async def let_go() -> None:
            nonlocal held
            if held:
                held = False
                self._walks -= 1
                if self._walks == 0:
                    await self.stop()

        self._walks += 1
        try:
            yield let_go
        finally:
            await let_go()

    def submit(self, job: ListingJob, *, source: str, url: str) -> Awaitable[Normalised]:
        """The page's items, being built by the child (or here, when there can be none)."""
        answer = _Answer(source=source, url=url)
        if self._deaths >= MAX_DEATHS:
            answer.built_here(job)
            return answer
        job_id = next(self._ids)
        self._pending[job_id] = answer
        process = self._process
        if process is not None and process.stdin is not None:
            process.stdin.write(wire_frame((job_id, job.to_wire())))
        else:
            self._queued.append((job_id, job))
            if self._starting is None:
                self._starting = asyncio.create_task(self._start())
        return answer

    async def stop(self) -> None:
        """End the child: it exits when its job pipe closes; it is killed if it hangs."""
        if self._starting is not None:
            await self._starting
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
        if self._answers is not None:
            await self._answers
        self._arena = _Arena()  # its maps go once their answers are collected

    async def _start(self) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-P",  # sys.path[0] is not the working folder: only our own scraper package
                "-m",
                "scraper.listing_job",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=_child_environment(),
                # Out of the terminal's process group, so Ctrl-C is the parent's to handle:
                # the child ends when its job pipe closes, whatever the parent died of.
                start_new_session=True,
            )
        except OSError as exc:
            log.warning("no extraction worker (%s): listing pages are read in-process", exc)
            self._deaths = MAX_DEATHS
            for job_id, job in self._queued:
                self._pending.pop(job_id).built_here(job)
            return
        finally:
            self._starting = None
        assert process.stdin is not None
        for job_id, job in self._queued:
            process.stdin.write(wire_frame((job_id, job.to_wire())))
        self._queued.clear()
        self._process = process
        self.children_started += 1
        self._answers = asyncio.create_task(self._read_answers(process))

    async def _read_answers(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        try:
            while True:
                header = await process.stdout.readexactly(ANSWER_HEADER.size)
                size, job_id, ok = ANSWER_HEADER.unpack(header)
                self._answer(job_id, ok, await process.stdout.readexactly(size))
        except asyncio.IncompleteReadError:
            pass  # the child has exited: its pipe is closed
        except Exception:
            log.exception("unreadable answer from the extraction worker; stopping it")
            process.kill()
        code = await process.wait()
        if self._process is process:  # not stopped by us
            self._process = None
            self._deaths += 1
            log.warning("the extraction worker exited unexpectedly (exit code %s)", code)
        self._fail_pending(f"the extraction worker stopped (exit code {code})")

    def _answer(self, job_id: int, ok: bool, payload: bytes) -> None:
        self.pages_answered += 1
        self._pending.pop(job_id).arrived(ok, payload, self._arena)

    def _fail_pending(self, message: str) -> None:
        pending, self._pending = self._pending, {}
        for answer in pending.values():
            answer.fail(message)


def _child_environment() -> dict[str, str]:
    """The parent's environment without Radar's own settings (its secrets among them: the
    child reads pages, nothing else), and with our scraper package on the child's path."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RADAR_")}
    path = os.pathsep.join(filter(None, (PACKAGE_ROOT, os.environ.get("PYTHONPATH"))))
    return environment | {"PYTHONPATH": path}
