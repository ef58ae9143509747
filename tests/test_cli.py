"""The `radar` command as an operator runs it: a real process, real HTTP on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest

from radar.fixture_server import FixtureServer
from tests.conftest import ROOT


def radar(
    *args: str, db: Path, cwd: Path | None = None, python: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RADAR_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run(
        [sys.executable, *python, "-m", "radar", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=120,
        check=False,
    )


def fast_config(tmp_path: Path, *, extra_source: str = "") -> Path:
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("host_delay: 2.0", "host_delay: 0") + extra_source
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def resolve_all(server: FixtureServer) -> list[str]:
    return [arg for host in server.hosts() for arg in ("--resolve", f"{host}={server.address}")]


def test_run_status_and_feed_over_loopback(fixture_sites: FixtureServer, tmp_path: Path) -> None:
    db, config = tmp_path / "radar.db", fast_config(tmp_path)
    run = ["run", "--config", str(config), "--source", "cfb", *resolve_all(fixture_sites)]

    first = radar(*run, db=db)
    fixture_sites.snapshot = "snapshot-2"
    second = radar(*run, db=db)
    status = radar("status", "--config", str(config), "--json", db=db)
    feed = radar("feed", "--config", str(config), "--out", str(tmp_path / "out"), db=db)

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    rows = {row["name"]: row for row in json.loads(status.stdout)}
    cfb = rows["cfb"]
    assert (cfb["status"], cfb["new"], cfb["items"], cfb["removed_items"]) == ("ok", 3, 88, 2)
    assert rows["skr"]["status"] == "never run"
    assert feed.returncode == 0
    parsed = feedparser.parse((tmp_path / "out" / "new.atom").read_bytes())
    assert not parsed.bozo and len(parsed.entries) == 3
    names = {path.name for path in (tmp_path / "out").iterdir()}
    per_source = {"cfb.atom", "knoca.atom", "vive.atom", "skr.atom"}
    assert {"new.atom", "review.atom", "public.atom", *per_source} <= names
    categories = {name for name in names if name.startswith("category-")}
    assert categories == {"category-cases.atom", "category-demokrati.atom", "category-metoder.atom"}


def test_a_run_imports_only_what_a_run_needs(fixture_sites: FixtureServer, tmp_path: Path) -> None:
    # cron starts `radar run` every few minutes: each start pays for what it imports
    # (time and memory), so the review page, digests, feeds, Celery, the terminal UI and
    # httpx's own command-line client (pygments) stay out of it, and so does PostgreSQL's
    # dialect when the database is SQLite.
    db, config = tmp_path / "radar.db", fast_config(tmp_path)
    run = ["run", "--config", str(config), "--source", "cfb", *resolve_all(fixture_sites)]

    result = radar(*run, db=db, python=("-X", "importtime"))

    assert result.returncode == 0, result.stderr
    imported = {
        line.rpartition("|")[2].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert {"radar.pipeline", "httpx", "aiohttp", "sqlalchemy", "selectolax"} <= imported
    heavy = {"rich", "pygments", "jinja2", "feedgen", "lxml", "starlette"}
    heavy |= {"celery", "radar.publish", "radar.cli_web", "radar.cli_review", "radar.cli_digest"}
    heavy |= {"sqlalchemy.dialects.postgresql"}  # a run on SQLite, the default
    heavy |= {"httpcore", "h11", "anyio"}  # httpx's own transport: aiohttp carries requests
    assert imported & heavy == set()


def test_help_lists_every_command_the_lazy_ones_too() -> None:
    from click.testing import CliRunner

    from radar.cli import LAZY_COMMANDS, main

    result = CliRunner().invoke(main, ["--help"])

    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line}
    assert {"run", "feed", "status", "schedule", *LAZY_COMMANDS} <= listed
    for name in LAZY_COMMANDS:
        assert CliRunner().invoke(main, [name, "--help"]).exit_code == 0


def test_a_failing_source_exits_1_and_the_others_are_committed(
    fixture_sites: FixtureServer, tmp_path: Path
) -> None:
    gone = """
  - name: gone
    kind: html
    url: https://centerforborgerdialog.dk/gone/
    item: li
    fields: {title: a, link: "a @href"}
"""
    db, config = tmp_path / "radar.db", fast_config(tmp_path, extra_source=gone)

    result = radar("run", "--config", str(config), *resolve_all(fixture_sites), db=db)
    status = json.loads(radar("status", "--config", str(config), "--json", db=db).stdout)

    assert result.returncode == 1
    assert "gone" in result.stderr
    statuses = {row["name"]: row["status"] for row in status}
    assert statuses.pop("gone") == "failed"
    assert statuses.pop("oecd-rss") == "never run"  # disabled: an alternative to oecd
    assert set(statuses.values()) == {"baseline"}
    assert set(statuses) == {"cfb", "cfb-katalog", "knoca", "vive", "skr", "oecd", "nesta"}


@pytest.mark.parametrize("command", ["run", "feed", "status"])
def test_a_broken_config_exits_2_names_the_key_and_touches_nothing(
    command: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        (ROOT / "config.yaml")
        .read_text(encoding="utf-8")
        .replace('item: ".resources', 'itme: ".resources'),
        encoding="utf-8",
    )
    db = tmp_path / "radar.db"

    result = radar(command, "--config", str(config), db=db)

    assert result.returncode == 2
    assert "sources[2] (knoca).itme: unknown key" in result.stderr
    assert not db.exists()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "radar.db"
    assert radar("run", "--source", "nope", db=db).returncode == 2
    assert radar("run", "--resolve", "x=8.8.8.8:53", db=db).returncode == 2
    assert radar("frobnicate", db=db).returncode == 2
    assert not db.exists()


def test_demo_runs_offline_and_writes_a_feed_of_new_items(tmp_path: Path) -> None:
    result = radar("demo", "--out", str(tmp_path / "demo"), db=tmp_path / "unused.db")

    assert result.returncode == 0, result.stderr
    assert "baseline" in result.stdout and "new.atom" in result.stdout
    parsed = feedparser.parse((tmp_path / "demo" / "feeds" / "new.atom").read_bytes())
    assert not parsed.bozo
    sources = {
        tag.term
        for entry in parsed.entries
        for tag in entry.tags
        if tag.scheme == "urn:inspiration-radar:source"
    }
    assert sources == {"cfb", "knoca", "vive", "skr", "oecd", "nesta"}  # cfb-katalog: own feed
    assert sum(entry.summary.startswith("Allerede i kataloget") for entry in parsed.entries) == 1
    assert not (tmp_path / "unused.db").exists()
