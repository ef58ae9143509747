"""radar.runtime: the garbage collector is paused only inside a block, and always restarted."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading

import pytest

from radar.runtime import collector_paused


def test_the_collector_is_paused_inside_and_running_after() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_runs_again_after_an_error() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("disk on fire")
    assert gc.isenabled()


def test_nested_blocks_restart_it_only_at_the_outermost() -> None:
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_blocks_in_threads_leave_it_running() -> None:
    # Two runs recorded at once by the daemon's threads: whichever ends last, the
    # collector runs afterwards.
    first_inside, second_done = threading.Event(), threading.Event()

    def second() -> None:
        first_inside.wait()
        with collector_paused():
            pass
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    with collector_paused():
        first_inside.set()
        second_done.wait(timeout=10)
    thread.join(timeout=10)
    assert gc.isenabled()


def test_a_command_freezes_what_its_imports_left() -> None:
    # The group's callback runs before any sub-command, even one asked only for --help.
    code = (
        "import gc; from click.testing import CliRunner; from radar.cli import main; "
        "before = gc.get_freeze_count(); CliRunner().invoke(main, ['status', '--help']); "
        "print(before, gc.get_freeze_count())"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = (int(count) for count in ran.stdout.split())
    assert before == 0
    assert after > 10_000  # modules, classes, functions: everything the imports made


# Threads that each malloc at once, then glibc's own count of its arenas (malloc_info).
ARENAS = """
import ctypes, os, sys, tempfile, threading
from radar.runtime import after_imports
if sys.argv[1] == "settled":
    after_imports()
barrier, held = threading.Barrier(4), []
def work():
    barrier.wait()
    held.append([bytearray(20_000) for _ in range(50)])
threads = [threading.Thread(target=work) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fclose.argtypes = (ctypes.c_void_p,)
path = os.path.join(tempfile.mkdtemp(), "info.xml")
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.malloc_info(0, stream)
libc.fclose(stream)
print(open(path).read().count("<heap nr="))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas")
def test_after_imports_every_thread_allocates_from_one_arena() -> None:
    def arenas(mode: str) -> int:
        env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
        done = subprocess.run(
            [sys.executable, "-c", ARENAS, mode], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        return int(done.stdout)

    assert arenas("settled") == 1
    assert arenas("as started") > 1  # what a run's store thread would get otherwise
