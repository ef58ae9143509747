"""The health guard (suspect runs) and each source's health over time."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from radar.fixture_server import Fault, FixtureServer
from radar.health import (
    Baseline,
    Health,
    RunStats,
    baseline_of,
    coverage,
    next_health,
    suspicion,
)
from radar.items import PartialDate, Precision
from scraper.spec import HealthRule
from storage.models import Event, RunStatus, Source
from tests.conftest import Entry, ListingSite
from tests.db_fixtures import make_item
from tests.test_pipeline import crawl

RULE = HealthRule()
FULL = dict.fromkeys(["title", "link", "summary", "category", "date"], 1.0)
USUAL = Baseline(items=40, coverage=FULL)


def test_a_usual_run_is_not_suspect() -> None:
    stats = RunStats(items=41, coverage=FULL, new=2)
    assert suspicion(stats, USUAL, RULE, known_active=40) is None


def test_far_fewer_items_than_usual_is_suspect_only_for_a_complete_run() -> None:
    few = RunStats(items=12, coverage=FULL)
    assert "usually 40" in (suspicion(few, USUAL, RULE, known_active=40) or "")
    partial = RunStats(items=12, coverage=FULL, finished=False)
    assert suspicion(partial, USUAL, RULE, known_active=40) is None


def test_a_usually_filled_field_gone_empty_is_suspect() -> None:
    no_dates = RunStats(items=40, coverage={**FULL, "date": 0.1})
    assert "field 'date' filled for 10%" in (
        suspicion(no_dates, USUAL, RULE, known_active=40) or ""
    )
    sparse = Baseline(items=40, coverage={**FULL, "category": 0.3})
    no_categories = RunStats(items=40, coverage={**FULL, "category": 0.0})
    assert suspicion(no_categories, sparse, RULE, known_active=40) is None


def test_most_items_new_at_once_is_the_redesign_signature() -> None:
    flood = RunStats(items=40, coverage=FULL, new=38)
    assert "38 of 40 items would be new" in (suspicion(flood, USUAL, RULE, known_active=40) or "")
    # A young source with few items may legitimately double.
    assert suspicion(RunStats(items=8, coverage=FULL, new=6), None, RULE, known_active=4) is None


def test_thresholds_are_per_source() -> None:
    lenient = HealthRule(min_share=0.1, max_new_share=0.99)
    assert (
        suspicion(RunStats(items=12, coverage=FULL, new=11), USUAL, lenient, known_active=40)
        is None
    )


def test_the_baseline_is_the_median_of_recent_runs() -> None:
    history = [
        RunStats(items=n, coverage={**FULL, "date": d}) for n, d in [(40, 1), (42, 1), (3, 0)]
    ]
    usual = baseline_of(history)
    assert usual is not None and usual.items == 40 and usual.coverage["date"] == 1
    assert baseline_of([]) is None


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        ([True], [Health.OK]),
        ([False, False, False], [Health.DEGRADED, Health.DEGRADED, Health.FAILING]),
        ([False, True, True], [Health.DEGRADED, Health.RECOVERED, Health.OK]),
        (
            [False, False, False, True],
            [Health.DEGRADED, Health.DEGRADED, Health.FAILING, Health.RECOVERED],
        ),
    ],
)
def test_health_follows_runs(runs: list[bool], expected: list[Health]) -> None:
    health, failures, seen = Health.OK, 0, []
    for ok in runs:
        health, failures = next_health(health, failures, run_ok=ok, rule=RULE)
        seen.append(health)
    assert seen == expected


def _entries(prefix: str, count: int) -> list[Entry]:
    return [Entry(f"{prefix}-{n}", f"Titel {prefix} {n}") for n in range(count)]


async def test_a_changed_url_scheme_is_suspect_then_the_next_normal_run_carries_on(
    listing_site: ListingSite, engine: Engine
) -> None:
    listing_site.write("usual", _entries("item", 12), per_page=20)
    listing_site.write("redesign", _entries("new-scheme", 12), per_page=20)
    listing_site.write("news", [Entry("fresh", "Helt ny"), *_entries("item", 12)], per_page=20)
    spec = listing_site.spec()
    with FixtureServer(listing_site.root, snapshot="usual") as server:
        await crawl(server, engine, [spec])
        server.snapshot = "redesign"
        [suspect] = await crawl(server, engine, [spec])
        server.snapshot = "news"
        [news] = await crawl(server, engine, [spec])

    assert suspect.status == RunStatus.SUSPECT
    assert "12 of 12 items would be new" in (suspect.error or "")
    assert (news.status, news.new, news.removed) == (RunStatus.OK, 1, 0)
    with Session(engine) as session:
        kinds = Counter(session.exec(select(Event.kind)))
    assert kinds == Counter({"new": 1})


async def test_health_is_kept_per_source_in_the_database(
    listing_site: ListingSite, engine: Engine
) -> None:
    listing_site.write("s1", _entries("item", 3))
    spec = listing_site.spec()
    seen = []
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        await crawl(server, engine, [spec])
        for _ in range(3):
            server.script(listing_site.host, "/list/", [Fault(status=503)] * 3)
            await crawl(server, engine, [spec])
            seen.append(_health(engine))
        await crawl(server, engine, [spec])
        seen.append(_health(engine))

    assert seen == ["degraded", "degraded", "failing", "recovered"]


def _health(engine: Engine) -> str:
    with Session(engine) as session:
        return session.exec(select(Source.health)).one()


def test_coverage_is_the_share_of_items_with_each_field() -> None:
    dated = PartialDate(dt.date(2026, 11, 1), Precision.MONTH)
    items = [
        make_item("a", summary="Et resumé", date=dated, category="Rapport"),
        make_item("b", summary=None, date=dated),
        make_item("c", summary="", date=None),  # an empty summary is still one given
        make_item("d", summary=None, date=None),
    ]
    assert coverage(items) == {
        "title": 1.0,
        "link": 1.0,
        "summary": 0.5,
        "category": 0.25,
        "date": 0.5,
    }
    assert coverage([]) == dict.fromkeys(("title", "link", "summary", "category", "date"), 0.0)
