"""The tools Radar is measured against: Scrapy and urlwatch, in a throwaway virtualenv.

Radar never imports them: each runs as its own measured child process, with the venv's
Python, created on first use in bench/.venv-baseline (RADAR_BENCH_BASELINE_VENV to move it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.measure import Measured, measured

BENCH = Path(__file__).resolve().parent
BASELINE_VENV = Path(os.environ.get("RADAR_BENCH_BASELINE_VENV", BENCH / ".venv-baseline"))
BASELINE_PACKAGES = ("scrapy==2.19.0", "urlwatch==2.29")


def baseline_python() -> Path:
    """The throwaway venv's Python with Scrapy and urlwatch, created on first use."""
    python = BASELINE_VENV / "bin" / "python"
    check = [str(python), "-c", "import scrapy, urlwatch"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"installing {', '.join(BASELINE_PACKAGES)} into {BASELINE_VENV} …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(BASELINE_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *BASELINE_PACKAGES], check=True)
    return python


def scrapy(python: Path, base: str, out: Path, concurrent_items: int) -> Measured:
    script = BENCH / "scrapy_job.py"
    return measured(
        [str(python), str(script), base, str(out), str(concurrent_items)], cwd=out.parent
    )


def urlwatch(python: Path, base: str, folder: Path, pages: int) -> tuple[Measured, Measured]:
    """urlwatch on the same listing pages (css filter li.item), first and unchanged run.

    urlwatch sends If-None-Match with the ETag it stored, so its second run is answered 304.
    """
    folder.mkdir()
    urlwatch = str(python.parent / "urlwatch")
    files = ["--config", str(folder / "config.yaml"), "--hooks", str(folder / "hooks.py")]
    files += ["--cache", str(folder / "cache.db")]
    empty = folder / "empty.yaml"
    empty.write_text("")
    subprocess.run([urlwatch, "--urls", str(empty), *files], capture_output=True, check=True)
    jobs = [
        f"name: p{n}\nurl: {base}/catalogue/page/{n}.html\nfilter:\n  - css: li.item\n"
        for n in range(1, pages + 1)
    ]
    (folder / "urls.yaml").write_text("---\n".join(jobs))
    cmd = [urlwatch, "--urls", str(folder / "urls.yaml"), *files]
    return measured(cmd, cwd=folder), measured(cmd, cwd=folder)
