"""Running one tool as a child process and measuring it: wall, CPU, peak RSS of its tree."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Measured:
    """One child run: its own figures plus the JSON line it printed."""

    wall: float
    cpu: float
    peak_rss_mb: float
    result: dict[str, Any] = field(default_factory=dict)


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = list(Path(f"/proc/{current}/task").glob("*/children"))
        except OSError:  # the process has just exited
            continue
        for task in tasks:
            try:
                todo.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _tree_rss_kb(pid: int) -> int:
    """The summed RSS of the process and its descendants. A descendant still running the
    root's command line is a fork not yet turned into its program (Radar starts its
    extraction child by fork and exec): its pages are the root's, so they are not counted
    twice (one sample in ~16 caught a starting child at the parent's full 77 MB)."""
    total, root = 0, _cmdline(pid)
    for member in _tree(pid):
        if member != pid and _cmdline(member) == root:
            continue
        try:
            total += int(Path(f"/proc/{member}/statm").read_text().split()[1]) * PAGE_KB
        except (OSError, IndexError, ValueError):
            continue
    return total


class ChildError(RuntimeError):
    pass


def run_child(
    cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Measured:
    """Run `cmd`, sampling the RSS of its whole process tree every 20 ms; wait4 gives CPU."""
    started = time.perf_counter()
    process = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kb(process.pid))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    stop.set()
    sampler.join()
    wall = time.perf_counter() - started
    # communicate() reaped the child; its usage (and that of the children it reaped) is in
    # our RUSAGE_CHILDREN totals, which run_child reads as a difference.
    if process.returncode != 0:
        raise ChildError(f"{cmd[:4]} exited {process.returncode}: {err[-3000:]}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    return Measured(wall=wall, cpu=0.0, peak_rss_mb=peak / 1024, result=result)


def measured(cmd: list[str], **kwargs: Any) -> Measured:
    """run_child plus the CPU seconds (user + system) the child tree used."""
    before = os.times()
    child = run_child(cmd, **kwargs)
    after = os.times()
    child.cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return child


def med(values: list[float]) -> float:
    return float(median(values)) if values else float("nan")
