"""The review page in a real browser: Playwright drives Debian's Chromium against the app
served by uvicorn on 127.0.0.1, over a database filled by real pipeline runs of the fixture
sites (snapshot-1 as the silent baseline, then snapshot-2, which announces new items).

Without /usr/bin/chromium the tests are skipped locally and fail in CI (CI=true).
"""

from __future__ import annotations

import html
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import feedparser
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from radar.config import RadarConfig
from radar.fixture_server import FixtureServer
from radar.runner import run_once
from radar.web.accounts import add_editor
from radar.web.app import WebSettings, create_app
from scraper.urls import host_of
from storage.db import make_engine, migrate
from storage.models import Item, Source
from tests.conftest import SITES, shipped_config
from tests.db_fixtures import sqlite_url
from tests.test_web_app import PASSWORD, cheap_hashing, serving

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

__all__ = ["cheap_hashing"]  # the autouse fixture, shared with test_web_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = ""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        reason = "the playwright package is not installed"
    if not reason and not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (Debian package chromium)"
    if reason:
        if _in_ci():
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        except Error as exc:
            if _in_ci():
                pytest.fail(f"CI must run the browser tests: Chromium did not start: {exc}")
            pytest.skip(f"Chromium did not start: {exc}")
        try:
            yield launched
        finally:
            launched.close()


def crawled(engine: Engine, tmp_path: Path) -> RadarConfig:
    """The shipped config, feeds into tmp_path, after two real runs over the fixture sites."""
    config = shipped_config()
    feed = config.feed.model_copy(update={"out_dir": tmp_path / "feeds"})
    url = engine.url.render_as_string(hide_password=False)
    with FixtureServer(SITES, snapshot="snapshot-1") as sites:
        host_map = {host: sites.address for host in sites.hosts()}
        specs = [s for s in config.sources if s.enabled and host_of(s.url) in host_map]
        config = config.model_copy(update={"feed": feed, "sources": tuple(specs)})
        for snapshot in ("snapshot-1", "snapshot-2"):
            sites.snapshot = snapshot
            # Playwright's sync API keeps an event loop in this thread; the run needs its own.
            with ThreadPoolExecutor(1) as pool:
                pool.submit(run_once, config, specs, database_url=url, host_map=host_map).result()
    return config


@pytest.fixture(scope="module")
def crawled_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database crawled for the tests that need not crawl themselves."""
    folder = tmp_path_factory.mktemp("crawled")
    engine = make_engine(sqlite_url(folder / "template.db"))
    try:
        migrate(engine)
        crawled(engine, folder)
    finally:
        engine.dispose()  # the last connection checkpoints the WAL into the file
    return folder / "template.db"


@pytest.fixture
def crawled_sqlite(crawled_template: Path, tmp_path: Path) -> Iterator[tuple[Engine, RadarConfig]]:
    """A copy of the crawled database, with a config writing feeds into tmp_path."""
    shutil.copyfile(crawled_template, tmp_path / "radar.db")
    engine = make_engine(sqlite_url(tmp_path / "radar.db"))
    config = shipped_config()
    feed = config.feed.model_copy(update={"out_dir": tmp_path / "feeds"})
    with FixtureServer(SITES, snapshot="snapshot-1") as sites:
        hosts = set(sites.hosts())
    specs = tuple(s for s in config.sources if s.enabled and host_of(s.url) in hosts)
    try:
        add_editor(engine, "anna", PASSWORD)
        yield engine, config.model_copy(update={"feed": feed, "sources": specs})
    finally:
        engine.dispose()


@contextmanager
def review_page(engine: Engine, config: RadarConfig) -> Iterator[str]:
    settings = WebSettings(secret="b" * 40, failed_login_delay=0.0)
    with serving(create_app(engine, config, settings)) as base:
        yield base


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Page, base: str) -> None:
    page.goto(base + "/")
    assert page.url == base + "/login"
    page.get_by_label("Brugernavn").fill("anna")
    page.get_by_label("Adgangskode").fill(PASSWORD)
    page.get_by_label("Adgangskode").press("Enter")
    page.wait_for_url(base + "/")


def public_titles(config: RadarConfig) -> list[str]:
    path = config.feed.out_dir / "public.atom"
    if not path.exists():
        return []
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo
    return [entry.title for entry in parsed.entries]


def review_states(engine: Engine, config: RadarConfig) -> dict[str, tuple[str, str | None]]:
    """The queue's items by title. Only the queue's: `cfb-katalog`'s tiles carry the titles
    of `cfb`'s posts, and which of two same-titled rows came last depended on which source's
    run stored first."""
    with Session(engine) as session:
        items = session.exec(in_queue(config))
        return {item.title: (item.review_state, item.reviewed_by) for item in items}


def in_queue(config: RadarConfig) -> Any:
    """Announced items of the sources whose items the queue shows without being asked."""
    return (
        select(Item)
        .join(Source, col(Source.id) == col(Item.source_id))
        .where(col(Item.announced).is_(True), col(Source.name).not_in(config.own_feed_only))
    )


def announced(engine: Engine, config: RadarConfig) -> int:
    with Session(engine) as session:
        return len(session.exec(in_queue(config)).all())


def test_an_editor_filters_accepts_dismisses_and_undoes(
    engine: Engine, tmp_path: Path, page: Page
) -> None:
    config = crawled(engine, tmp_path)
    add_editor(engine, "anna", PASSWORD)
    assert public_titles(config) == []
    with review_page(engine, config) as base:
        log_in(page, base)
        items = page.locator("article.item")
        assert items.count() == announced(engine, config) > 4

        page.get_by_label("Kilde").select_option("nesta")
        page.get_by_role("button", name="Filtrér").click()
        page.wait_for_url("**source=nesta**")
        titles = items.locator("h2").all_inner_texts()
        assert len(titles) == 2
        assert all("Nesta" in text for text in items.locator(".meta").all_inner_texts())

        first, second = (title.strip() for title in titles)
        items.first.get_by_role("button", name="Godkend", exact=True).click()
        expect_status(page, "1 element godkendt")
        assert public_titles(config) == [first]
        assert page.get_by_role("heading", name=first).count() == 0

        items.first.get_by_role("button", name="Afvis", exact=True).click()
        expect_status(page, "1 element afvist")
        assert review_states(engine, config)[second] == ("dismissed", "anna")
        assert page.get_by_role("heading", name=second).count() == 0

        page.get_by_role("status").get_by_role("button", name="Fortryd", exact=True).click()
        expect_status(page, "1 element sat tilbage til ny")
        assert page.get_by_role("heading", name=second).count() == 1
        assert review_states(engine, config)[second] == ("new", None)

        page.get_by_label("Status").select_option("accepted")
        page.get_by_role("button", name="Filtrér").click()
        page.wait_for_url("**state=accepted**")
        assert items.locator("h2").all_inner_texts() == [first]
        items.first.get_by_role("button", name="Fortryd", exact=True).click()
        expect_status(page, "sat tilbage til ny")
        assert public_titles(config) == []
        assert review_states(engine, config)[first] == ("new", None)


def expect_status(page: Page, text: str) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("status")).to_contain_text(text)


class EvilSite(BaseHTTPRequestHandler):
    """Another origin on loopback whose page posts to the review page, as an attacker's would."""

    target = ""

    def do_GET(self) -> None:
        body = (
            f'<!doctype html><form method="post" action="{html.escape(self.target)}/decide">'
            '<input type="hidden" name="action" value="accept">'
            f'<input type="hidden" name="item" value="{self.path.strip("/")}">'
            '<button type="submit">Vind en præmie</button></form>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def evil_site(target: str) -> Iterator[str]:
    handler = type("Handler", (EvilSite,), {"target": target})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_cross_site_post_is_refused_hostile_text_stays_text_and_bulk_works(
    crawled_sqlite: tuple[Engine, RadarConfig], page: Page
) -> None:
    sqlite_engine, config = crawled_sqlite
    hostile = '<script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2">'
    with Session(sqlite_engine) as session:
        item = session.exec(in_queue(config)).first()
        assert item is not None and item.id is not None
        item_id, item.title = item.id, hostile
        session.add(item)
        session.commit()
    before = review_states(sqlite_engine, config)
    with review_page(sqlite_engine, config) as base, evil_site(base) as evil:
        log_in(page, base)
        heading = page.locator(f"#title-{item_id}")
        assert heading.inner_text().strip() == hostile
        assert page.evaluate("window.pwned") is None
        assert_every_control_is_labelled(page)

        page.goto(f"{evil}/{item_id}")
        with page.expect_response(f"{base}/decide") as answer:
            page.get_by_role("button", name="Vind en præmie").click()
        assert answer.value.status == 403
        assert review_states(sqlite_engine, config) == before
        assert public_titles(config) == []

        # Back on the page: select all from the keyboard, then one bulk action.
        page.goto(base + "/")
        page.get_by_label("Vælg alle på siden").focus()
        page.keyboard.press("Space")
        boxes = page.locator('input[form="bulk"][name="item"]')
        chosen = boxes.count()
        assert chosen == announced(sqlite_engine, config) > 4
        assert all(box.is_checked() for box in boxes.all())
        page.get_by_role("button", name="Afvis valgte").click()
        expect_status(page, f"{chosen} elementer afvist")
        states = review_states(sqlite_engine, config).values()
        assert {state for state, _ in states} == {"dismissed"}


def assert_every_control_is_labelled(page: Page) -> None:
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, button')]
              .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                            && !el.textContent.trim())
              .map(el => el.outerHTML)"""
    )
    assert unlabelled == []
    assert page.locator("html").get_attribute("lang") == "da"
