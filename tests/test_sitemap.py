"""The `sitemap` kind: reading sitemaps safely, choosing pages, and Nesta end to end.

The end-to-end tests run the modelled Nesta site (tests/fixtures/build_nesta.py) through
radar.pipeline.run_sources on SQLite, over real HTTP on loopback, with NESTA_YAML: the exact
block config.yaml is to carry. The fixture server's request log shows which pages were fetched.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from radar.config import parse_config
from radar.errors import ConfigError, ExtractError
from radar.fixture_server import Fault, FixtureServer
from radar.pipeline import RunOutcome, run_sources
from scraper.adapters import adapter_for
from scraper.adapters.sitemap import SitemapSpec, children_of
from scraper.adapters.sitemap_details import Known, Listed, UrlSet, due_pages, listed_pages, settle
from scraper.crawl import PageMemo
from scraper.fetch import Fetcher
from scraper.response import Validators
from scraper.sitemaps import SitemapKind, SitemapSyntaxError, inflate, read_sitemap
from scraper.urls import canonical_url
from storage.models import Event, Item, Run, RunStatus
from tests.conftest import EXPECTED, SITES, expected, fast_crawler, shipped_config

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine

NESTA = "www.nesta.org.uk"
# The block for config.yaml, tested here exactly as it is to be shipped.
NESTA_YAML = r"""
- name: nesta
  title: Nesta – reports
  kind: sitemap
  url: https://www.nesta.org.uk/sitemap.xml
  language: en
  schedule: "35 6 * * *"
  # Reports only: /report/<slug>/, not their chapters /report/<slug>/<chapter>/.
  include: "^https://www\\.nesta\\.org\\.uk/report/[^/]+/$"
  script_fields:
    date: publishDate
    category: areasOfWork
  detail:
    links: ".page-heading__downloads a @href"
  max_details: 100
"""


def nesta_spec(**overrides: Any) -> SitemapSpec:
    [values] = yaml.safe_load(NESTA_YAML)
    values.update(overrides)
    return SitemapSpec.model_validate(values)


def test_the_nesta_block_is_valid_config_and_matches_config_yaml_if_shipped() -> None:
    config = parse_config(f"crawler: {{contact_url: 'https://example.dk/'}}\nsources:{NESTA_YAML}")
    assert config.source("nesta") == nesta_spec()
    shipped = {spec.name: spec for spec in shipped_config().sources}
    if "nesta" in shipped:
        assert shipped["nesta"] == nesta_spec()


# ---------------------------------------------------------------------------------------------
# Reading sitemaps

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url><loc>
    https://www.nesta.org.uk/report/a/?x=1&amp;y=2</loc><lastmod>2024-05-01</lastmod>
    <image:image><image:loc>https://media.nesta.org.uk/a.jpg</image:loc></image:image></url>
  <url><loc>https://www.nesta.org.uk/report/b/</loc><changefreq>weekly</changefreq></url>
  <url><lastmod>2024-05-01</lastmod></url>
</urlset>"""


def test_a_urlset_gives_locations_and_lastmods_in_order() -> None:
    sitemap = read_sitemap(URLSET)
    assert sitemap.kind is SitemapKind.URLSET
    assert [(e.loc, e.lastmod) for e in sitemap.entries] == [
        ("https://www.nesta.org.uk/report/a/?x=1&y=2", "2024-05-01"),
        ("https://www.nesta.org.uk/report/b/", None),
    ]
    assert (sitemap.dropped, sitemap.truncated) == (1, False)


def test_an_index_lists_its_sitemaps_whatever_namespace_it_claims() -> None:
    index = b"""<sitemapindex xmlns="http://www.google.com/schemas/sitemap/0.84">
      <sitemap><loc>https://x.org/a.xml.gz</loc><lastmod>2024-01-01</lastmod></sitemap>
      <sitemap><loc>https://x.org/b.xml</loc></sitemap></sitemapindex>"""
    sitemap = read_sitemap(index)
    assert sitemap.kind is SitemapKind.INDEX
    assert [e.loc for e in sitemap.entries] == ["https://x.org/a.xml.gz", "https://x.org/b.xml"]


def test_gzip_is_inflated_also_in_several_members() -> None:
    assert read_sitemap(gzip.compress(URLSET, mtime=0)) == read_sitemap(URLSET)
    halves = gzip.compress(URLSET[:100], mtime=0) + gzip.compress(URLSET[100:], mtime=0)
    assert read_sitemap(halves) == read_sitemap(URLSET)


def test_max_entries_stops_reading_and_says_so() -> None:
    sitemap = read_sitemap(URLSET, max_entries=1)
    assert (len(sitemap.entries), sitemap.truncated) == (1, True)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<urlset><url><loc>&b;</loc></url></urlset>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]><urlset><url><loc>&x;</loc></url></urlset>"""


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (BILLION_LAUGHS, "DOCTYPE"),
        (EXTERNAL_ENTITY, "DOCTYPE"),
        (b'<!DOCTYPE urlset SYSTEM "http://evil.example/x.dtd"><urlset/>', "DOCTYPE"),
        (b"<urlset><url><loc>&undeclared;</loc></url></urlset>", "undefined entity"),
        (b"", "not well-formed"),
        (b"<urlset><url><loc>https://x.org/</loc></url>", "not well-formed"),
        (b"<!doctype html><html><body>Sorry</body></html>", "not well-formed"),
        (b"<html><body>Sorry</body></html>", "neither <urlset> nor <sitemapindex>"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff", "broken gzip"),
        (gzip.compress(URLSET)[:-12], "truncated gzip"),
        (gzip.compress(URLSET) + b"junk", "trailing garbage"),
    ],
)
def test_unusable_documents_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(SitemapSyntaxError, match=reason):
        read_sitemap(body)


def test_a_gzip_bomb_is_refused_without_inflating_it_whole() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * 2_000_000 + b"</urlset>", mtime=0)
    assert len(bomb) < 5_000
    with pytest.raises(SitemapSyntaxError, match="larger than 1000000 bytes when inflated"):
        inflate(bomb, max_bytes=1_000_000)
    with pytest.raises(SitemapSyntaxError, match="larger than 100 bytes"):
        inflate(b" " * 101, max_bytes=100)


@given(st.binary(max_size=600) | st.text(max_size=600).map(lambda t: f"<urlset>{t}".encode()))
def test_any_bytes_give_a_sitemap_or_a_syntax_error(body: bytes) -> None:
    with contextlib.suppress(SitemapSyntaxError):
        read_sitemap(body)


# ---------------------------------------------------------------------------------------------
# Choosing pages


def urlset_of(*entries: tuple[str, str | None]) -> UrlSet:
    xml = "".join(
        f"<url><loc>{loc}</loc>{f'<lastmod>{mod}</lastmod>' if mod else ''}</url>"
        for loc, mod in entries
    )
    sitemap = read_sitemap(f"<urlset>{xml}</urlset>".encode())
    return UrlSet("https://www.nesta.org.uk/sitemap-reports.xml", Validators(), sitemap.entries)


def test_include_must_match_the_whole_url_and_exclude_anywhere() -> None:
    urlset = urlset_of(
        ("https://www.nesta.org.uk/report/shifting-the-dial/", "2024-01-01"),
        ("https://www.nesta.org.uk/report/shifting-the-dial/the-gap-today/", "2024-01-01"),
        ("https://www.nesta.org.uk/report/", None),
        ("https://www.nesta.org.uk/blog/a-report/", None),
        ("https://www.nesta.org.uk/report/shifting-the-dial/?utm_source=x", None),
        ("https://www.nesta.org.uk/report/draft-do-not-publish/", None),
        ("https://evil.example/report/x/", None),
        ("https://www.nesta.org.uk/report/people-powered-shift/", None),
    )
    spec = nesta_spec(
        include=r"^https://[^/]+/report/[^/]+/(\?.*)?$", exclude="draft", language=None
    )
    pages = listed_pages(urlset, spec=spec, identity=canonical_url)
    # The ?utm_source copy is the same identity: listed once.
    assert [(page.url, page.lastmod) for page in pages] == [
        ("https://www.nesta.org.uk/report/shifting-the-dial/", "2024-01-01"),
        ("https://www.nesta.org.uk/report/people-powered-shift/", None),
    ]


def page(key: str, lastmod: str | None) -> Listed:
    return Listed(key=key, url=f"https://www.nesta.org.uk/report/{key}/", lastmod=lastmod)


def test_due_pages_are_new_first_then_newest_and_unchanged_ones_are_not_due() -> None:
    known = Known(frozenset({"same", "moved", "bare", "stamped"}), {"same": "1", "moved": "1"})
    pages = [
        page("same", "1"),  # same stamp: carried
        page("bare", None),  # known, no lastmod: carried
        page("moved", "2"),  # new stamp: due
        page("stamped", "1"),  # a stamp appeared: due
        page("old-new", "2019"),
        page("new-new", "2024"),
        page("undated-a", None),
        page("undated-b", None),
        page("undated-a", "2030"),  # listed again in another sitemap: the first listing counts
    ]
    due = due_pages(pages, known)
    assert [p.key for p in due] == [
        "new-new",
        "old-new",
        "undated-a",
        "undated-b",
        "moved",
        "stamped",
    ]


def test_settling_keeps_old_stamps_and_drops_validators_while_pages_are_unread() -> None:
    known = Known(frozenset({"a", "b"}), {"a": "1", "b": "1"})
    urlset = UrlSet("https://x.org/s.xml", Validators(etag='"v1"'), ())
    pages = [page("a", "1"), page("b", "2"), page("c", "2"), page("d", "3")]
    settled = settle(urlset, pages, known, {"d"})
    assert settled.carried == {"a", "b"}  # b's new version is unread: still present, old stamp
    assert settled.memo.item_keys == ("a", "b", "d")  # c is unread and unknown: left out
    assert settled.memo.item_stamps == {"a": "1", "b": "1", "d": "3"}
    assert settled.memo.validators == Validators()  # so the next run re-reads the sitemap
    assert not settled.complete


def test_an_index_memo_remembers_children_and_a_urlset_memo_does_not() -> None:
    index = PageMemo("https://x.org/i.xml", Validators(), (), None, {"https://x.org/a.xml": ""})
    urlset = PageMemo("https://x.org/a.xml", Validators(), ("k",), None, {"k": "2024"})
    empty = PageMemo("https://x.org/b.xml", Validators(), (), None, {})
    assert children_of(index) == ("https://x.org/a.xml",)
    assert children_of(urlset) is None
    assert children_of(empty) is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("include", "(", "invalid regular expression"),
        ("exclude", "[", "invalid regular expression"),
        ("max_details", 0, "greater than or equal to 1"),
        ("script_fields", {"date": "publish Date"}, "should match pattern"),
        ("script_fields", {"author": "x"}, "unknown key"),
        ("detail", {"title": "h1 @"}, "attribute name"),
        ("detail", {"body": "main"}, "unknown key"),
    ],
)
def test_config_errors_name_the_key(key: str, value: object, message: str) -> None:
    [values] = yaml.safe_load(NESTA_YAML)
    values[key] = value
    text = yaml.safe_dump({"crawler": {"contact_url": "https://e.dk/"}, "sources": [values]})
    with pytest.raises(ConfigError, match=message) as raised:
        parse_config(text)
    assert f"sources[0] (nesta).{key}" in str(raised.value)


# ---------------------------------------------------------------------------------------------
# Nesta end to end


async def run(server: FixtureServer, engine: Engine, spec: SitemapSpec) -> RunOutcome:
    host_map = {host: server.address for host in server.hosts()}
    async with Fetcher(fast_crawler(), host_map=host_map) as fetcher:
        [outcome] = await run_sources([spec], engine=engine, fetcher=fetcher)
    return outcome


def events(engine: Engine, run_id: int | None = None) -> Counter[tuple[str, str]]:
    """(kind, item key) of the events of one run, or of all runs."""
    statement = select(Event.kind, Item.key).join(Item, col(Item.id) == col(Event.item_id))
    if run_id is not None:
        statement = statement.where(Event.run_id == run_id)
    with Session(engine) as session:
        return Counter((str(kind), key) for kind, key in session.exec(statement))


def expected_events(snapshot: str) -> Counter[tuple[str, str]]:
    changes = expected("nesta", "changes.json").get(snapshot, {})
    return Counter((kind, canonical_url(link)) for kind, links in changes.items() for link in links)


def detail_requests(server: FixtureServer) -> Counter[str]:
    return Counter(r.path for r in server.requests_for(NESTA) if r.path.startswith("/report/"))


def report_paths(snapshot: str) -> set[str]:
    return {
        "/report/" + item["link"].split("/report/")[1]
        for item in json.loads((EXPECTED / "nesta" / f"{snapshot}.json").read_text())
    }


def stored(engine: Engine) -> dict[str, Item]:
    with Session(engine) as session:
        return {item.key: item for item in session.exec(select(Item))}


@pytest.fixture
def nesta() -> Any:
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        yield server


async def test_only_new_and_changed_reports_are_fetched_and_announced(
    nesta: FixtureServer, sqlite_engine: Engine
) -> None:
    spec = nesta_spec()
    first = await run(nesta, sqlite_engine, spec)
    assert (first.status, first.items, first.pages) == (RunStatus.BASELINE, 20, 3)
    assert detail_requests(nesta) == Counter(dict.fromkeys(report_paths("snapshot-1"), 1))
    assert events(sqlite_engine) == Counter()

    nesta.clear_requests()
    nesta.snapshot = "snapshot-2"
    second = await run(nesta, sqlite_engine, spec)
    assert second.status is RunStatus.OK
    assert events(sqlite_engine, second.run_id) == expected_events("snapshot-2")
    # Two new reports, the re-described one, and the one whose lastmod changed with its
    # markup only (fetched, but not announced). The seventeen others are carried unread.
    assert set(detail_requests(nesta)) == {
        "/report/deliberation-at-scale/",
        "/report/net-zero-neighbourhoods/",
        "/report/collective-intelligence-for-climate-action/",
        "/report/digital-democracy-tools/",
    }
    assert [r.status for r in nesta.requests_for(NESTA, "/sitemap-pages.xml")] == [304]
    cosmetic = stored(sqlite_engine)["https://www.nesta.org.uk/report/digital-democracy-tools"]
    assert cosmetic.links[-1].endswith("/documents/22077/Digital_democracy_data_appendix.pdf")

    nesta.clear_requests()
    third = await run(nesta, sqlite_engine, spec)
    assert (third.status, third.items, third.new + third.changed + third.removed) == (
        RunStatus.UNCHANGED,
        21,
        0,
    )
    # The index answered 304 and so did both children: no report page was fetched at all.
    assert [(r.path, r.status) for r in nesta.requests_for(NESTA) if r.path != "/robots.txt"] == [
        ("/sitemap.xml", 304),
        ("/sitemap-reports.xml.gz", 304),
        ("/sitemap-pages.xml", 304),
    ]


async def test_stored_items_are_the_expected_ones_with_their_pdf_links(
    nesta: FixtureServer, sqlite_engine: Engine
) -> None:
    await run(nesta, sqlite_engine, nesta_spec())
    items = stored(sqlite_engine)
    want = expected("nesta", "snapshot-1.json")
    assert {key: (i.title, i.summary, i.category) for key, i in items.items()} == {
        canonical_url(w["link"]): (w["title"], w["summary"], w["category"]) for w in want
    }
    dial = items["https://www.nesta.org.uk/report/shifting-the-dial"]
    assert dial.links == [
        "https://www.nesta.org.uk/documents/21502/Shifting_the_dial_report.pdf",
        "https://www.nesta.org.uk/documents/21503/Shifting_the_dial_summary.pdf",
    ]  # not the annual report linked from the footer


async def test_a_backlog_is_read_over_several_runs_without_losing_or_repeating_items(
    nesta: FixtureServer, sqlite_engine: Engine
) -> None:
    spec = nesta_spec(max_details=8)
    outcomes = [await run(nesta, sqlite_engine, spec) for _ in range(3)]
    assert [o.status for o in outcomes] == [RunStatus.BASELINE] * 3
    assert [o.items for o in outcomes] == [8, 16, 20]
    with Session(sqlite_engine) as session:
        runs = session.exec(select(Run).order_by(col(Run.id))).all()
        assert [run.complete for run in runs] == [False, False, True]
    # Every report page fetched exactly once, the sitemap re-read until the backlog was done.
    assert detail_requests(nesta) == Counter(dict.fromkeys(report_paths("snapshot-1"), 1))
    assert events(sqlite_engine) == Counter()  # the first complete run is still the baseline

    nesta.snapshot = "snapshot-2"
    await run(nesta, sqlite_engine, spec)
    assert events(sqlite_engine) == expected_events("snapshot-2")


async def test_a_backlog_after_the_baseline_announces_everything_once_and_removes_late(
    nesta: FixtureServer, sqlite_engine: Engine
) -> None:
    await run(nesta, sqlite_engine, nesta_spec())
    nesta.snapshot = "snapshot-2"
    spec = nesta_spec(max_details=2)

    partial = await run(nesta, sqlite_engine, spec)
    assert partial.status is RunStatus.PARTIAL
    # New reports come first; nothing is removed while the crawl is incomplete.
    assert events(sqlite_engine, partial.run_id) == Counter(
        ("new", canonical_url(link))
        for link in expected("nesta", "changes.json")["snapshot-2"]["new"]
    )
    done = await run(nesta, sqlite_engine, spec)
    assert done.status is RunStatus.OK
    assert events(sqlite_engine) == expected_events("snapshot-2")
    again = await run(nesta, sqlite_engine, spec)
    assert (again.status, again.new, again.changed) == (RunStatus.UNCHANGED, 0, 0)


async def test_failed_detail_pages_are_retried_next_run_and_nothing_is_removed_meanwhile(
    nesta: FixtureServer, sqlite_engine: Engine
) -> None:
    await run(nesta, sqlite_engine, nesta_spec())
    nesta.snapshot = "snapshot-2"
    failing = [
        "/report/deliberation-at-scale/",
        "/report/collective-intelligence-for-climate-action/",
    ]
    for path in failing:
        nesta.script(NESTA, path, [Fault(status=503)] * 3)  # every attempt of fast_crawler

    hurt = await run(nesta, sqlite_engine, nesta_spec())
    assert hurt.status is RunStatus.PARTIAL and hurt.error and "503" in hurt.error
    assert events(sqlite_engine, hurt.run_id) == Counter(
        {("new", "https://www.nesta.org.uk/report/net-zero-neighbourhoods"): 1}
    )
    nesta.clear_requests()
    healed = await run(nesta, sqlite_engine, nesta_spec())
    assert healed.status is RunStatus.OK
    assert set(detail_requests(nesta)) == set(failing)  # only the two that failed
    assert events(sqlite_engine) == expected_events("snapshot-2")


# ---------------------------------------------------------------------------------------------
# Small generated sites: flat sitemaps, encodings, hostile answers


HOST = "reports.example.org"
HOST_PATTERN = r"reports\.example\.org"


class Site:
    """A generated site in tmp_path: a sitemap and report pages, per snapshot."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, path: str, body: bytes | str, *, snapshot: str = "snapshot-1") -> None:
        target = self.root / snapshot / HOST / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body.encode() if isinstance(body, str) else body)

    def headers(self, table: dict[str, Any], *, snapshot: str = "snapshot-1") -> None:
        self.write("/_headers.json", json.dumps(table), snapshot=snapshot)

    def report(self, slug: str, title: str, *, snapshot: str = "snapshot-1") -> str:
        html = (
            f"<html lang='en'><head><title>{title}</title>"
            f"<meta name='description' content='About {title}.'></head><body></body></html>"
        )
        self.write(f"/r/{slug}/index.html", html, snapshot=snapshot)
        return f"https://{HOST}/r/{slug}/"

    @staticmethod
    def urlset(*locs: str, lastmod: str = "2024-01-01") -> str:
        urls = "".join(f"<url><loc>{loc}</loc><lastmod>{lastmod}</lastmod></url>" for loc in locs)
        return f'<?xml version="1.0"?><urlset>{urls}</urlset>'

    @staticmethod
    def spec(**overrides: Any) -> SitemapSpec:
        values: dict[str, Any] = {
            "name": "example",
            "kind": "sitemap",
            "url": f"https://{HOST}/sitemap.xml",
            "include": rf"^https://{HOST_PATTERN}/r/[^/]+/$",
        }
        values.update(overrides)
        return SitemapSpec.model_validate(values)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "sites")


async def crawl_once(
    site: Site, spec: SitemapSpec, memos: dict[str, PageMemo] | None = None
) -> Any:
    with FixtureServer(site.root, snapshot="snapshot-1") as server:
        async with Fetcher(fast_crawler(), host_map={HOST: server.address}) as fetcher:
            crawl = await adapter_for("sitemap").crawl(spec, fetcher=fetcher, memos=memos or {})
        requests = [(r.path, r.status) for r in server.requests_for(HOST)]
        return crawl, [request for request in requests if request[0] != "/robots.txt"]


async def test_a_flat_sitemap_answered_304_fetches_no_page(site: Site) -> None:
    locs = [site.report("one", "One"), site.report("two", "Two")]
    site.write("/sitemap.xml", site.urlset(*locs))
    first, _ = await crawl_once(site, site.spec())
    assert [item.title for item in first.items] == ["One", "Two"] and first.complete
    memos = {memo.url: memo for memo in first.memos}

    again, requests = await crawl_once(site, site.spec(), memos)
    assert requests == [("/sitemap.xml", 304)]
    assert again.items == () and again.carried_keys == {canonical_url(loc) for loc in locs}
    assert again.complete and again.all_not_modified


async def test_a_gzip_encoded_body_is_read(site: Site) -> None:
    loc = site.report("one", "One")
    site.write("/sitemap.xml", gzip.compress(site.urlset(loc).encode(), mtime=0))
    site.headers({"/sitemap.xml": {"Content-Encoding": "gzip", "Content-Type": "text/xml"}})
    crawl, _ = await crawl_once(site, site.spec())
    assert [item.url for item in crawl.items] == [loc] and crawl.complete


async def test_a_gzip_bomb_fails_the_run_without_reading_any_page(
    site: Site, sqlite_engine: Engine
) -> None:
    site.report("one", "One")
    bomb = b"<urlset>" + b" " * (60 * 1024 * 1024) + b"</urlset>"
    site.write("/sitemap.xml.gz", gzip.compress(bomb, compresslevel=9, mtime=0))
    spec = site.spec(url=f"https://{HOST}/sitemap.xml.gz")
    with FixtureServer(site.root, snapshot="snapshot-1") as server:
        async with Fetcher(fast_crawler(), host_map={HOST: server.address}) as fetcher:
            [outcome] = await run_sources([spec], engine=sqlite_engine, fetcher=fetcher)
    assert outcome.status is RunStatus.FAILED
    assert outcome.error and "larger than 52428800 bytes when inflated" in outcome.error


async def test_a_doctype_in_the_sitemap_fails_the_source_and_nothing_expands(site: Site) -> None:
    site.write("/sitemap.xml", BILLION_LAUGHS)
    crawl, _ = await crawl_once(site, site.spec())
    assert not crawl.complete and crawl.pages == 0 and crawl.items == ()
    assert isinstance(crawl.error, ExtractError) and "DOCTYPE" in str(crawl.error)


async def test_one_unreadable_child_leaves_the_others_read_but_the_crawl_incomplete(
    site: Site,
) -> None:
    loc = site.report("one", "One")
    site.write("/a.xml", site.urlset(loc))
    site.write("/b.xml", "<urlset><url><loc>oops</url></urlset>")
    nested = f"<sitemap><loc>https://{HOST}/a.xml</loc></sitemap>"
    site.write("/nested.xml", f"<sitemapindex>{nested}</sitemapindex>")
    children = "".join(
        f"<sitemap><loc>{url}</loc></sitemap>"
        for url in (f"https://{HOST}/a.xml", f"https://{HOST}/b.xml", f"https://{HOST}/nested.xml",
                    "https://elsewhere.example/c.xml")
    )  # fmt: skip
    site.write("/sitemap.xml", f"<sitemapindex>{children}</sitemapindex>")
    crawl, _ = await crawl_once(site, site.spec())
    assert [item.url for item in crawl.items] == [loc]
    assert not crawl.complete
    assert crawl.error is not None and "b.xml" in str(crawl.error)
    notes = " ".join(crawl.notes)
    assert "index inside an index" in notes and "outside the allowed domains" in notes


async def test_a_page_robots_txt_forbids_is_not_fetched_and_the_crawl_is_incomplete(
    site: Site,
) -> None:
    locs = [site.report("open", "Open"), site.report("closed", "Closed")]
    site.write("/robots.txt", "User-agent: *\nDisallow: /r/closed/\n")
    site.write("/sitemap.xml", site.urlset(*locs))
    crawl, requests = await crawl_once(site, site.spec())
    assert [item.title for item in crawl.items] == ["Open"]
    assert ("/r/closed/", 200) not in requests
    assert not crawl.complete and "robots" in str(crawl.error)


async def test_a_page_without_a_title_is_skipped_and_retried(site: Site) -> None:
    site.write("/r/blank/index.html", "<html><body><p>Maintenance</p></body></html>")
    site.write("/sitemap.xml", site.urlset(f"https://{HOST}/r/blank/"))
    crawl, _ = await crawl_once(site, site.spec())
    assert (crawl.items, crawl.skipped, crawl.complete) == ((), 1, False)
    assert [memo.item_keys for memo in crawl.memos] == [()]


async def test_a_binary_page_where_a_report_should_be_is_an_error_and_retried(
    site: Site,
) -> None:
    good = site.report("good", "Good")
    site.write("/r/scan/index.html", b"%PDF-1.7\x00\x01\x02\x03" * 200)
    site.write("/sitemap.xml", site.urlset(good, f"https://{HOST}/r/scan/"))
    crawl, _ = await crawl_once(site, site.spec())
    assert [item.url for item in crawl.items] == [good] and not crawl.complete
    assert isinstance(crawl.error, ExtractError) and "binary" in str(crawl.error)
    sitemap_memos = [memo for memo in crawl.memos if memo.url.endswith("/sitemap.xml")]
    assert [memo.item_keys for memo in sitemap_memos] == [(canonical_url(good),)]


async def test_a_hostile_deeply_nested_page_is_read_without_crashing(site: Site) -> None:
    good = site.report("good", "Good")
    deep = "<span>" * 5_000 + "Deep" + "</span>" * 5_000
    site.write("/r/deeper/index.html", f"<p>{deep}</p>")
    spec = site.spec(detail={"title": "p"})
    site.write("/sitemap.xml", site.urlset(good, f"https://{HOST}/r/deeper/"))
    crawl, _ = await crawl_once(site, spec)
    assert [item.title for item in crawl.items] == ["Good", "Deep"] and crawl.complete


async def test_max_urls_caps_the_entries_read(site: Site) -> None:
    locs = [site.report(f"r{n}", f"R{n}") for n in range(3)]
    site.write("/sitemap.xml", site.urlset(*locs))
    crawl, _ = await crawl_once(site, site.spec(max_urls=2))
    assert len(crawl.items) == 2 and not crawl.complete


async def test_a_page_in_two_child_sitemaps_stays_present_when_one_drops_it(
    site: Site, sqlite_engine: Engine
) -> None:
    for snapshot in ("snapshot-1", "snapshot-2"):
        one, two, three = (site.report(s, s.title(), snapshot=snapshot) for s in "abc")
        children = "".join(f"<sitemap><loc>https://{HOST}/{n}.xml</loc></sitemap>" for n in "xy")
        site.write("/sitemap.xml", f"<sitemapindex>{children}</sitemapindex>", snapshot=snapshot)
        site.write("/y.xml", site.urlset(two, three), snapshot=snapshot)
    site.write("/x.xml", site.urlset(one, two), snapshot="snapshot-1")
    site.write("/x.xml", site.urlset(one), snapshot="snapshot-2")  # "b" now only in y.xml
    with FixtureServer(site.root, snapshot="snapshot-1") as server:
        async with Fetcher(fast_crawler(), host_map={HOST: server.address}) as fetcher:
            [first] = await run_sources([site.spec()], engine=sqlite_engine, fetcher=fetcher)
            server.snapshot = "snapshot-2"
            [second] = await run_sources([site.spec()], engine=sqlite_engine, fetcher=fetcher)
        statuses = [(r.path, r.status) for r in server.requests_for(HOST)]
    assert (first.status, first.items, second.status, second.items) == (
        RunStatus.BASELINE,
        3,
        RunStatus.OK,
        3,
    )
    assert ("/y.xml", 304) in statuses
    assert events(sqlite_engine) == Counter()  # nothing removed, nothing new


async def test_a_page_whose_lastmod_moved_is_fetched_conditionally(
    site: Site, sqlite_engine: Engine
) -> None:
    for snapshot, lastmod in (("snapshot-1", "2024-01-01"), ("snapshot-2", "2024-02-01")):
        pages = [site.report(slug, slug.title(), snapshot=snapshot) for slug in ("a", "b")]
        site.write("/sitemap.xml", site.urlset(*pages, lastmod=lastmod), snapshot=snapshot)
    spec = site.spec()
    with FixtureServer(site.root, snapshot="snapshot-1") as server:
        await run(server, sqlite_engine, spec)
        server.snapshot = "snapshot-2"
        server.clear_requests()
        second = await run(server, sqlite_engine, spec)
        pages = [r for r in server.requests_for(HOST) if r.path.startswith("/r/")]
        server.clear_requests()
        third = await run(server, sqlite_engine, spec)
        again = [r for r in server.requests_for(HOST) if r.path.startswith("/r/")]

    # Every <lastmod> moved but no page changed: each is asked with its validators, answers
    # 304, stays present and unchanged, and is not asked again while its <lastmod> stays.
    # Details are read concurrently, so in either order.
    assert sorted((r.path, r.status) for r in pages) == [("/r/a/", 304), ("/r/b/", 304)]
    assert all("if-none-match" in r.headers for r in pages)
    assert (second.status, second.new, second.changed, second.removed) == ("ok", 0, 0, 0)
    assert second.items == 2 and third.status == "unchanged" and again == []
