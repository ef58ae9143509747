"""The benchmark suite still runs: `python -m bench.run --smoke` end to end, timings unchecked.

It serves a 200-item synthetic site with nginx, runs the real pipeline on it (first run,
unchanged re-run, a snapshot whose events must match the generator's truth exactly),
times storage, feeds and memory, and must exit 0. Figures are printed, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.server import nginx_binary

ROOT = Path(__file__).resolve().parent.parent


def test_bench_smoke_runs_and_prints_its_figures() -> None:
    if nginx_binary() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required for the benchmark smoke test in CI")
        pytest.skip("nginx not installed")
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for heading in (
        "nginx at http://127.0.0.1:",
        "== End to end:",
        "Inspiration Radar",
        "== Unchanged re-run",
        "== After --snapshot 2 (truth: 4 new, 2 changed, 2 removed) ==",
        "the same item ids as the truth: yes",
        "== Checking the 10 listing pages",
        "== Diff + store",
        "== Feed generation ==",
        "== Memory over 10 scheduled runs",
        "== Targets",
    ):
        assert heading in out, f"missing {heading!r} in:\n{out}"
    assert "MISS] snapshot" not in out
