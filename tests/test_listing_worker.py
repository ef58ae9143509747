"""Listing pages' items built in a child process (scraper.listing_worker), on a real child.

The walk with a worker must give exactly the crawl it gives in-process; the child lives
only while walks need it; a child that dies fails its pages in flight and nothing else.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from radar.errors import ExtractError
from radar.fixture_server import FixtureServer
from radar.items import Precision
from radar.pipeline import run_sources
from scraper import listing_worker
from scraper.adapters import adapter_for
from scraper.adapters.html import HtmlSpec, job_maker, resolve_links
from scraper.adapters.paging import ReadPage, walk_pages
from scraper.extract import extract_listing
from scraper.fetch import Fetcher
from scraper.identity import identity_function
from scraper.listing_job import items_from_wire, items_to_wire, listing_items
from scraper.listing_worker import MAX_DEATHS, ListingWorker
from scraper.normalise import build_items
from storage.db import open_database
from tests.conftest import FIXTURES, Entry, ListingSite, cfb_archive, fast_crawler

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scraper.crawl import Crawl, PageMemo
    from scraper.listing_job import ListingJob
    from scraper.normalise import Normalised
    from scraper.response import FetchResult

HOST = "centerforborgerdialog.dk"
ARCHIVE_PAGE = (
    FIXTURES / "sites/snapshot-1/centerforborgerdialog.dk/category/inspiration-praksis/index.html"
)
BASE = "https://centerforborgerdialog.dk/category/inspiration-praksis/"


def archive_spec(**update: object) -> HtmlSpec:
    return HtmlSpec.model_validate(cfb_archive().model_dump() | update)


def archive_job(spec: HtmlSpec | None = None) -> ListingJob:
    return job_maker(spec or archive_spec())(ARCHIVE_PAGE.read_text(encoding="utf-8"), BASE)


async def walk(
    server: FixtureServer,
    spec: HtmlSpec,
    host: str,
    worker: ListingWorker | None,
    memos: Mapping[str, PageMemo],
) -> Crawl:
    async with Fetcher(fast_crawler(), host_map={host: server.address}) as fetcher:
        with listing_worker.serving(worker):
            return await adapter_for("html").crawl(spec, fetcher=fetcher, memos=memos)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- the job: the same items as a page read in-process ---------------------------------


def test_a_job_builds_the_items_a_page_read_in_process_gets() -> None:
    spec = archive_spec(
        identity={"rewrite": [{"pattern": "/inspiration/", "replace": "/i/"}], "id_pattern": None}
    )
    job = archive_job(spec)
    page = extract_listing(
        job.html, item=spec.item, fields=spec.fields.selectors(), next_page=spec.next_page
    )
    in_process = build_items(
        page.records, page_url=BASE, language="da", identity=identity_function(spec.identity)
    )

    built = listing_items(job)

    assert built == in_process and len(built.items) == 10
    assert {item.date.precision for item in built.items if item.date} == {Precision.MONTH}


def test_items_cross_the_pipe_unchanged() -> None:
    import marshal

    built = listing_items(archive_job())
    wire = marshal.loads(marshal.dumps(items_to_wire(built)))
    assert items_from_wire(wire) == built


# --- the walk: the same crawl with and without the worker ------------------------------


@pytest.mark.parametrize(
    "paging",
    [{}, {"next_page": None, "page_url": BASE + "page/{n}/"}],
    ids=["next link", "URL pattern"],
)
async def test_the_archive_walks_to_the_same_crawl_with_a_worker(
    fixture_sites: FixtureServer, paging: dict[str, object]
) -> None:
    spec = archive_spec(**paging)
    worker = ListingWorker()

    alone = await walk(fixture_sites, spec, HOST, None, {})
    helped = await walk(fixture_sites, spec, HOST, worker, {})
    assert helped == alone
    assert alone.complete and len(alone.items) > 50
    assert worker.pages_answered == helped.pages_fetched


async def test_pages_answered_304_keep_their_place_among_pages_read_by_the_worker(
    listing_site: ListingSite,
) -> None:
    entries = [Entry(f"e{n}", f"Indslag {n}") for n in range(9)]
    listing_site.write("s1", entries)
    listing_site.write("s2", [*entries[:4], Entry("e4", "Rettet"), *entries[5:]])  # page 2
    spec = listing_site.spec()
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        first = await walk(server, spec, listing_site.host, None, {})
        server.snapshot = "s2"
        memos = {memo.url: memo for memo in first.memos}
        alone = await walk(server, spec, listing_site.host, None, memos)
        worker = ListingWorker()
        helped = await walk(server, spec, listing_site.host, worker, memos)
        # Once more, nothing changed: every page 304, so no child is started.
        again = await walk(
            server, spec, listing_site.host, worker, {m.url: m for m in helped.memos}
        )

    assert helped == alone
    assert (alone.pages_fetched, alone.pages_not_modified) == (1, 2)
    assert [memo.url for memo in helped.memos] == [memo.url for memo in first.memos]
    assert [item.title for item in helped.items] == ["Indslag 3", "Rettet", "Indslag 5"]
    assert again.pages_not_modified == 3 and worker.children_started == 1


async def test_a_page_whose_items_fail_ends_the_crawl_there(listing_site: ListingSite) -> None:
    listing_site.write("s1", [Entry(f"e{n}", f"Indslag {n}") for n in range(9)])
    spec = listing_site.spec()

    def read(result: FetchResult, *, page_number: int) -> ReadPage:
        page = extract_listing(
            result.text, item=spec.item, fields=spec.fields.selectors(), next_page=spec.next_page
        )
        base, next_url = resolve_links(spec, result, page, page_number)
        if page_number != 2:
            return ReadPage(page.records, base, next_url)
        lost: asyncio.Future[Normalised] = asyncio.get_running_loop().create_future()
        lost.set_exception(ExtractError("worker stopped", source=spec.name, url=result.url))
        return ReadPage((), base, next_url, items=lost)

    with FixtureServer(listing_site.root, snapshot="s1") as server:
        async with Fetcher(fast_crawler(), host_map={listing_site.host: server.address}) as f:
            result = await walk_pages(spec, fetcher=f, memos={}, read=read, max_pages=10)

    assert [item.title for item in result.items] == ["Indslag 0", "Indslag 1", "Indslag 2"]
    assert not result.complete and isinstance(result.error, ExtractError)
    assert result.error.url.endswith("/list/page/2/")
    assert [memo.url for memo in result.memos] == ["https://site.test/list/"]


async def test_a_run_hands_its_listing_pages_to_a_worker_unless_told_not_to(
    listing_site: ListingSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [Entry(f"e{n}", f"Indslag {n}") for n in range(12)]
    listing_site.write("s1", entries)
    submitted: list[str] = []
    real_submit = ListingWorker.submit

    def spying(self: ListingWorker, job: ListingJob, *, source: str, url: str) -> object:
        submitted.append(url)
        return real_submit(self, job, source=source, url=url)

    monkeypatch.setattr(ListingWorker, "submit", spying)
    engine = open_database(f"sqlite:///{tmp_path}/radar.db")
    with FixtureServer(listing_site.root, snapshot="s1") as server:
        for wanted in (False, True):
            settings = fast_crawler(extraction_worker=wanted)
            host_map = {listing_site.host: server.address}
            async with Fetcher(settings, host_map=host_map) as fetcher:
                spec = listing_site.spec(f"site-{str(wanted).lower()}")
                [outcome] = await run_sources([spec], engine=engine, fetcher=fetcher)
            assert (outcome.status, outcome.items, outcome.pages) == ("baseline", 12, 4)
    engine.dispose()
    assert len(submitted) == 4  # the run with the worker only


# --- the child's life -------------------------------------------------------------------


async def test_the_child_lives_while_walks_need_it_and_is_shared() -> None:
    worker = ListingWorker()
    job = archive_job()
    async with worker.walk() as let_go:
        assert worker.pid is None  # nothing handed over yet
        assert await worker.submit(job, source="cfb", url=BASE) == listing_items(job)
        pid = worker.pid
        assert pid is not None and alive(pid)
        async with worker.walk():
            assert await worker.submit(job, source="cfb", url=BASE) == listing_items(job)
            assert worker.pid == pid
        assert worker.pid == pid and alive(pid)  # the first walk still holds it
        last = worker.submit(job, source="cfb", url=BASE)
        await let_go()
        assert worker.pid is None and not alive(pid)
        # The answer was kept: the items are collected after the child has gone.
        assert await last == listing_items(job)
    assert worker.pages_answered == 3


async def test_the_child_is_out_of_the_terminals_reach() -> None:
    worker = ListingWorker()
    async with worker.walk():
        await worker.submit(archive_job(), source="cfb", url=BASE)
        assert worker.pid is not None
        # Its own session: a Ctrl-C in the terminal is the parent's alone to handle.
        assert os.getsid(worker.pid) == worker.pid != os.getsid(0)


async def test_the_child_sees_none_of_radars_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADAR_SMTP_PASSWORD", "hemmeligt")
    worker = ListingWorker()
    async with worker.walk():
        await worker.submit(archive_job(), source="cfb", url=BASE)
        assert worker.pid is not None
        environment = Path(f"/proc/{worker.pid}/environ").read_bytes().split(b"\0")
    assert not [entry for entry in environment if entry.startswith(b"RADAR_")]
    assert any(entry.startswith(b"PYTHONPATH=") for entry in environment)


async def test_a_child_that_dies_fails_only_its_pages_in_flight() -> None:
    worker = ListingWorker()
    job = archive_job()
    async with worker.walk():
        for _ in range(MAX_DEATHS):
            assert await worker.submit(job, source="cfb", url=BASE) == listing_items(job)
            pid = worker.pid
            assert pid is not None
            os.kill(pid, signal.SIGSTOP)  # it cannot answer before it is killed
            in_flight = worker.submit(job, source="cfb", url=BASE + "page/2/")
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(ExtractError, match="stopped") as failed:
                await in_flight
            assert failed.value.source == "cfb" and failed.value.url == BASE + "page/2/"
            assert worker.pid is None  # the next page starts a new child
        # After MAX_DEATHS deaths, pages are read in-process.
        assert await worker.submit(job, source="cfb", url=BASE) == listing_items(job)
        assert worker.pid is None


async def test_a_page_the_child_cannot_read_fails_alone() -> None:
    worker = ListingWorker()
    good = archive_job()
    broken = dataclasses.replace(good, item="li[")  # a selector selectolax refuses
    async with worker.walk():
        failing = worker.submit(broken, source="cfb", url=BASE + "page/3/")
        fine = worker.submit(good, source="cfb", url=BASE)
        with pytest.raises(ExtractError, match="page/3/"):
            await failing
        assert await fine == listing_items(good)


async def test_without_a_child_pages_are_read_in_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    worker = ListingWorker()
    job = archive_job()
    with caplog.at_level(logging.WARNING):
        async with worker.walk():
            first = worker.submit(job, source="cfb", url=BASE)
            second = worker.submit(job, source="cfb", url=BASE)
            assert await first == await second == listing_items(job)
            assert await worker.submit(job, source="cfb", url=BASE) == listing_items(job)
            assert worker.pid is None
    assert "in-process" in caplog.text


async def test_a_cancelled_walk_leaves_the_worker_usable() -> None:
    worker = ListingWorker()
    job = archive_job()

    async def walk_forever() -> None:
        async with worker.walk():
            worker.submit(job, source="cfb", url=BASE)
            await asyncio.Event().wait()

    task = asyncio.create_task(walk_forever())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert worker.pid is None
    async with worker.walk():
        assert await worker.submit(job, source="cfb", url=BASE) == listing_items(job)


@pytest.mark.parametrize(
    ("setting", "cpus", "wanted"),
    [(None, {0}, False), (None, {0, 1}, True), (True, {0}, True), (False, {0, 1}, False)],
)
def test_the_worker_is_wanted_where_a_second_cpu_is_allowed(
    monkeypatch: pytest.MonkeyPatch, setting: bool | None, cpus: set[int], wanted: bool
) -> None:
    # A container pinned to one CPU of a larger machine counts as one.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: cpus)
    assert fast_crawler(extraction_worker=setting).wants_extraction_worker is wanted
