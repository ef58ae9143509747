"""radar.runtime: the garbage collector is paused only inside a block, and always restarted."""

from __future__ import annotations

import gc
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
