"""`radar rebaseline`: after a redesign an operator has checked, the site as it is becomes
the usual, silently. Real HTTP on loopback, SQLite and PostgreSQL, the real command."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from radar.fixture_server import Fault, FixtureServer
from radar.runs import request_rebaseline
from storage.models import RunStatus, Source
from tests.conftest import Entry, ListingSite
from tests.test_cli import fast_config, radar, resolve_all
from tests.test_pipeline import crawl, events, stored

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine

ENTRIES = [Entry(f"item-{n}", f"Titel {n}") for n in range(12)]


def asked(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.exec(select(Source.rebaseline)).one()


async def test_a_checked_redesign_becomes_the_usual_without_a_word(
    listing_site: ListingSite, engine: Engine
) -> None:
    listing_site.write("s1", ENTRIES)
    listing_site.write("s2", ENTRIES[:3])  # the redesigned site shows 3 of its 12 items
    listing_site.write("s3", [Entry("fresh", "Helt ny"), *ENTRIES[:3]])
    spec = listing_site.spec()
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        for _ in range(3):  # the baseline, then two runs: the usual is 12 items
            await crawl(server, engine, [spec])
        server.snapshot = "s2"
        suspects = [await crawl(server, engine, [spec]) for _ in range(2)]
        assert request_rebaseline(engine, ["site", "never-run"]) == ["site"]
        [rebased] = await crawl(server, engine, [spec])
        server.snapshot = "s3"
        [after] = await crawl(server, engine, [spec])

    # Set aside run after run: without the operator's word it would never end.
    assert [outcome.status for [outcome] in suspects] == [RunStatus.SUSPECT] * 2
    assert (rebased.status, rebased.ok) == (RunStatus.BASELINE, True)
    # Measured by the new usual (3 items), not the old one (12), which it would fail.
    assert (after.status, after.new, after.removed) == (RunStatus.OK, 1, 0)
    # The nine items gone in the redesign are removed quietly; only the new one is news.
    assert events(engine) == Counter({("new", "https://site.test/items/fresh"): 1})
    assert sum(1 for row in stored(engine) if row.removed_at) == 9
    assert not asked(engine)  # spent by the run it asked for


async def test_a_rebaseline_never_takes_a_listing_that_yields_nothing(
    listing_site: ListingSite, engine: Engine
) -> None:
    listing_site.write("s1", ENTRIES[:6])
    spec = listing_site.spec()
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        await crawl(server, engine, [spec])
        request_rebaseline(engine, ["site"])
        empty = b"<html><body><div class='new-grid'>Nyt design</div></body></html>"
        server.script(listing_site.host, "/list/", [Fault(status=200, body=empty)])
        [suspect] = await crawl(server, engine, [spec])
        [again] = await crawl(server, engine, [spec])

    assert suspect.status == RunStatus.SUSPECT
    assert "suspected layout change" in (suspect.error or "")
    assert (again.status, again.items) == (RunStatus.BASELINE, 6)  # still asked for: taken now
    assert not asked(engine) and events(engine) == Counter()


def test_the_command_names_unknown_sources_and_says_what_it_did(
    fixture_sites: FixtureServer, tmp_path: Path
) -> None:
    db, config = tmp_path / "radar.db", fast_config(tmp_path)
    unknown = radar("rebaseline", "--config", str(config), "nope", db=db)
    assert unknown.returncode == 2 and "unknown source(s): nope" in unknown.stderr

    ran = radar(
        "run", "--config", str(config), "--source", "cfb", *resolve_all(fixture_sites), db=db
    )
    done = radar("rebaseline", "--config", str(config), "cfb", "vive", db=db)
    status = json.loads(radar("status", "--config", str(config), "--json", db=db).stdout)

    assert (ran.returncode, done.returncode) == (0, 0), ran.stderr + done.stderr
    assert done.stdout.splitlines() == [
        "cfb: its next run is a silent baseline; nothing of it is announced",
        "vive: never run; its first run is a silent baseline anyway",
    ]
    asked_for = {row["name"]: row["rebaseline"] for row in status}
    assert (asked_for["cfb"], asked_for["vive"]) == (True, False)
