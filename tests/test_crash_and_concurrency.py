"""A run killed at any point leaves the database consistent; two runs never share a source.

Real processes (`python -m radar run`), killed with SIGKILL, against a slow loopback
server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from radar.fixture_server import Fault, FixtureServer
from scraper.urls import canonical_url
from storage.models import Event, Item, Run, RunStatus
from tests.conftest import ROOT, SITES, cfb_archive_yaml, expected
from tests.test_cli import fast_config, resolve_all

DEADLINE = 60.0
PAGE_2 = (
    SITES / "snapshot-2/centerforborgerdialog.dk/category/inspiration-praksis/page/2/index.html"
)
HTML = {"Content-Type": "text/html; charset=utf-8"}


def start_run(engine: Engine, config: Path, server: FixtureServer) -> subprocess.Popen[str]:
    env = {**os.environ, "RADAR_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    command = [
        sys.executable,
        "-m",
        "radar",
        "run",
        "--config",
        str(config),
        "--source",
        "cfb-archive",
    ]
    return subprocess.Popen(
        [*command, *resolve_all(server)],
        env=env,
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for_pages(server: FixtureServer, count: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        pages = [r for r in server.requests if r.path.startswith("/category/") and r.status]
        if len(pages) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"the run never reached {count} pages")


def announced(engine: Engine) -> Counter[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(Event.kind, Item.url).join(Item, col(Item.id) == col(Event.item_id))
        )
        return Counter((kind, canonical_url(url)) for kind, url in rows)


def expected_changes() -> Counter[tuple[str, str]]:
    changes = expected("cfb-archive", "changes.json")["snapshot-2"]
    return Counter((kind, canonical_url(link)) for kind, links in changes.items() for link in links)


@pytest.mark.parametrize("kill_after_pages", [1, 9])
def test_sigkill_mid_run_then_the_next_run_announces_each_item_once(
    engine: Engine, fixture_sites: FixtureServer, tmp_path: Path, kill_after_pages: int
) -> None:
    config = fast_config(tmp_path, extra_source=cfb_archive_yaml())
    _, err = start_run(engine, config, fixture_sites).communicate(timeout=DEADLINE)
    assert announced(engine) == Counter(), err

    fixture_sites.snapshot = "snapshot-2"
    fixture_sites.clear_requests()
    fixture_sites.latency = 0.15
    victim = start_run(engine, config, fixture_sites)
    wait_for_pages(fixture_sites, kill_after_pages)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=DEADLINE)
    assert victim.returncode == -signal.SIGKILL
    assert announced(engine) == Counter()  # nothing of the killed run is half there

    fixture_sites.latency = 0.0
    survivor = start_run(engine, config, fixture_sites)
    _, err = survivor.communicate(timeout=DEADLINE)

    assert survivor.returncode == 0, err
    assert announced(engine) == expected_changes()
    with Session(engine) as session:
        statuses = [run.status for run in session.exec(select(Run).order_by(col(Run.id)))]
    assert statuses[0] == RunStatus.BASELINE and statuses[-1] == RunStatus.OK
    assert RunStatus.RUNNING not in statuses


def test_two_runs_at_once_never_run_the_same_source_twice(
    engine: Engine, fixture_sites: FixtureServer, tmp_path: Path
) -> None:
    config = fast_config(tmp_path, extra_source=cfb_archive_yaml())
    first = start_run(engine, config, fixture_sites)
    first.communicate(timeout=DEADLINE)
    assert first.returncode == 0

    fixture_sites.snapshot = "snapshot-2"
    fixture_sites.clear_requests()
    # Hold the first run on page 2 long enough for a second process to start, however
    # loaded the machine is; the second finds the source locked and skips it.
    hold = Fault(status=200, delay=15.0, body=PAGE_2.read_bytes(), headers=HTML)
    fixture_sites.script(
        "centerforborgerdialog.dk", "/category/inspiration-praksis/page/2/", [hold]
    )
    one = start_run(engine, config, fixture_sites)
    wait_for_pages(fixture_sites, 1)
    two = start_run(engine, config, fixture_sites)
    _, err_two = two.communicate(timeout=DEADLINE)
    _, err_one = one.communicate(timeout=DEADLINE)

    assert (one.returncode, two.returncode) == (0, 0), err_one + err_two
    assert "another run of this source is in progress" in err_two
    assert announced(engine) == expected_changes()


def test_runs_of_different_sources_at_once_share_one_database(
    engine: Engine, fixture_sites: FixtureServer, tmp_path: Path
) -> None:
    config = fast_config(tmp_path)
    env = {**os.environ, "RADAR_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    fixture_sites.latency = 0.05
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "radar",
                "run",
                "--config",
                str(config),
                "--source",
                name,
                *resolve_all(fixture_sites),
            ],
            env=env,
            cwd=ROOT,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("cfb", "knoca", "vive", "skr")
    ]
    errors = [run.communicate(timeout=DEADLINE)[1] for run in runs]

    assert [run.returncode for run in runs] == [0, 0, 0, 0], errors
    assert not any("database is locked" in err for err in errors)
    with Session(engine) as session:
        statuses = sorted(run.status for run in session.exec(select(Run)))
    assert statuses == [RunStatus.BASELINE] * 4
