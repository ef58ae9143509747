"""The extraction worker: a child process that builds listing pages' items on another core.

A walk through a listing is sequential (each page names the next), and reading a page's
items costs as much CPU as fetching it. With a worker, the event loop reads only where a
page leads, hands the page to the child (scraper.listing_job) and goes on fetching; the
items come back while it does.

One ListingWorker serves every walk of a run (radar.pipeline.run_sources) or of a
scheduler's life, found by the walks through `current()`. Its child starts when a walk
begins and stops when the last walk using it ends, so an idle scheduler holds no child and
a run's enrichment and storing never share the machine's memory with it.

A child that dies takes only its pages in flight with it: each fails with an ExtractError,
so those walks end incomplete (nothing is called removed). Until the next walk starts a
new child, pages are read in-process; after MAX_STARTS children in one worker's life it
stops trying.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import marshal
import os
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from radar.errors import ExtractError
from scraper.listing_job import (
    FRAME_HEADER,
    ListingJob,
    items_from_wire,
    listing_items,
    wire_frame,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Iterator

    from scraper.normalise import Normalised

log = logging.getLogger(__name__)

MAX_STARTS = 4
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


class ListingWorker:
    """The parent's end of the extraction child: jobs out, items back, matched by job id."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._answers: asyncio.Task[None] | None = None
        self._pending: dict[int, tuple[asyncio.Future[Normalised], str, str]] = {}
        self._ids = itertools.count(1)
        self._walks = 0
        self._starts = 0
        self.pages_answered = 0  # by a child, over this worker's life

    @property
    def pid(self) -> int | None:
        """The running child's process id, if one is running."""
        return self._process.pid if self._process is not None else None

    @contextlib.asynccontextmanager
    async def walk(self) -> AsyncIterator[None]:
        """Hold the child for one walk: started by the first, stopped by the last to end."""
        self._walks += 1
        try:
            if self._process is None and self._starts < MAX_STARTS:
                await self._start()
            yield
        finally:
            self._walks -= 1
            if self._walks == 0:
                await self.stop()

    def submit(self, job: ListingJob, *, source: str, url: str) -> Awaitable[Normalised]:
        """The page's items, being built by the child (or here, when there is none)."""
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            done: asyncio.Future[Normalised] = asyncio.get_running_loop().create_future()
            done.set_result(listing_items(job))
            return done
        job_id = next(self._ids)
        future: asyncio.Future[Normalised] = asyncio.get_running_loop().create_future()
        self._pending[job_id] = (future, source, url)
        process.stdin.write(wire_frame((job_id, job.to_wire())))
        return future

    async def stop(self) -> None:
        """End the child: it exits when its job pipe closes; it is killed if it hangs."""
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

    async def _start(self) -> None:
        self._starts += 1
        path = os.pathsep.join(filter(None, (PACKAGE_ROOT, os.environ.get("PYTHONPATH"))))
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-P",  # sys.path[0] is not the working folder: only our own scraper package
                "-m",
                "scraper.listing_job",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": path},
                # Out of the terminal's process group, so Ctrl-C is the parent's to handle:
                # the child ends when its job pipe closes, whatever the parent died of.
                start_new_session=True,
            )
        except OSError as exc:
            log.warning("no extraction worker (%s): listing pages are read in-process", exc)
            self._starts = MAX_STARTS
            return
        self._answers = asyncio.create_task(self._read_answers(self._process))

    async def _read_answers(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        try:
            while True:
                header = await process.stdout.readexactly(FRAME_HEADER.size)
                (size,) = FRAME_HEADER.unpack(header)
                self._answer(*marshal.loads(await process.stdout.readexactly(size)))
        except asyncio.IncompleteReadError:
            pass  # the child has exited: its pipe is closed
        except Exception:
            log.exception("unreadable answer from the extraction worker; stopping it")
            process.kill()
        code = await process.wait()
        if self._process is process:
            self._process = None
            log.warning("the extraction worker exited (code %s) while pages were in it", code)
        self._fail_pending(f"the extraction worker stopped (exit code {code})")

    def _answer(self, job_id: int, ok: bool, payload: Any) -> None:
        future, source, url = self._pending.pop(job_id)
        if future.done():  # the walk waiting for it was cancelled
            return
        self.pages_answered += 1
        if ok:
            future.set_result(items_from_wire(payload))
        else:
            future.set_exception(ExtractError(payload, source=source, url=url))

    def _fail_pending(self, message: str) -> None:
        pending, self._pending = self._pending, {}
        for future, source, url in pending.values():
            if not future.done():
                future.set_exception(ExtractError(message, source=source, url=url))
