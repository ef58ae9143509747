"""How the process uses memory: the cyclic garbage collector kept out of the way of a run's
bulk work, and one malloc arena for every thread.

A run allocates hundreds of thousands of small objects (items, rows, parameters) and
almost none of them form cycles, yet every 700 allocations the collector walks the young
ones, and now and then every object in the process. Measured on 100,000 items: pausing it
while a crawl is diffed and stored saves ~0.4 s of 3.7 s, and freezing what the imports
left behind saves ~0.3 s at every process exit, when the collector walks everything once
more.

A run is stored on a worker thread (radar.pipeline), and glibc gives such a thread a malloc
arena of its own: what the crawl freed on the main thread could not serve the store, and
the benchmark's 20,000-item run peaked 1-2 MB higher (bench/README.md). The threads here
mostly wait on the GIL or the database, so one arena costs no speed.
"""

from __future__ import annotations

import gc
import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

# glibc's mallopt() parameter for the most arenas malloc may create (malloc.h).
M_ARENA_MAX = -8


def after_imports() -> None:
    """Settle the process once its imports are done, before any thread starts: one malloc
    arena, and every object alive now (modules, classes, caches) exempt from collections,
    since those live as long as the process anyway."""
    _one_malloc_arena()
    gc.freeze()


def _one_malloc_arena() -> None:
    """M_ARENA_MAX=1 on glibc (where MALLOC_ARENA_MAX is not set already); elsewhere nothing."""
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return
    import ctypes  # here, not at the top: only this call needs it (0.3 MB), on Linux only

    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)
    except (OSError, AttributeError):  # a C library without mallopt
        return


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collections inside the block; whatever cycles it made are found after.

    Safe with overlapping blocks in threads: only the block that paused the collector
    starts it again.
    """
    paused_here = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused_here:
            gc.enable()
