"""The `wordpress` kind: the CfB catalogue through the REST API, over loopback, into SQLite.

The CfB fixtures (tests/fixtures/build_cfb.py) model the API of the same site whose archive
the html kind reads; small sites written to tmp_path model what the catalogue does not show
(descendant categories, several pages, refusals and broken answers).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from sqlmodel import Session, col, select

from radar.config import parse_config
from radar.errors import ConfigError, ExtractError, FetchError, TransientFetchError
from radar.fixture_server import Fault, FixtureServer
from radar.pipeline import run_sources
from scraper.adapters import adapter_for
from scraper.adapters.wordpress import (
    Categories,
    WordPressSpec,
    outbound_links,
    post_record,
    posts_url,
    strip_read_more,
)
from scraper.extract import fragment_text
from scraper.fetch import Fetcher
from scraper.identity import identity_function
from storage.models import Event, Item, Run, RunStatus
from tests.conftest import SITES, cfb_archive, expected, fast_crawler, shipped_config
from tests.test_sources import as_expected

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from radar.pipeline import RunOutcome
    from scraper.crawl import Crawl
    from scraper.spec import SourceSpec

HOST = "centerforborgerdialog.dk"
# The shipped config.yaml's block (test_the_shipped_cfb_source_is_this_block checks it).
CFB_WP_YAML = """
crawler:
  contact_url: https://centerforborgerdialog.dk/kontakt/
sources:
  - name: cfb
    title: Center for Borgerdialog – Inspiration til praksis
    kind: wordpress
    url: https://centerforborgerdialog.dk/
    language: da
    schedule: "15 6 * * *"
    categories: [inspiration-praksis]
    fallback:
      url: https://centerforborgerdialog.dk/category/inspiration-praksis/
      item: "article.post-entry"
      fields:
        title: "h2.entry-title a"
        link: "h2.entry-title a @href"
        summary: ".entry-summary"
        category: ".entry-category"
        date: ".entry-date"
      next_page: "a.next.page-numbers @href"
      max_pages: 20
"""
CFB_WP = parse_config(CFB_WP_YAML, origin="test_wordpress.py").source("cfb")
SNAPSHOTS = ("snapshot-1", "snapshot-2", "snapshot-3")


def host_map(server: FixtureServer) -> dict[str, str]:
    return {host: server.address for host in server.hosts()}


async def crawl_once(server: FixtureServer, spec: SourceSpec) -> Crawl:
    async with Fetcher(fast_crawler(), host_map=host_map(server)) as fetcher:
        return await adapter_for(spec.kind).crawl(spec, fetcher=fetcher, memos={})


async def run(server: FixtureServer, engine: Engine, *specs: SourceSpec) -> list[RunOutcome]:
    async with Fetcher(fast_crawler(), host_map=host_map(server)) as fetcher:
        return await run_sources(specs, engine=engine, fetcher=fetcher)


def run_events(engine: Engine, run_id: int | None) -> Counter[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(Event.kind, Item.key)
            .join(Item, col(Item.id) == col(Event.item_id))
            .where(Event.run_id == run_id)
        )
        return Counter((kind, key) for kind, key in rows)


def api_requests(server: FixtureServer, route: str) -> list[str]:
    return [r.query for r in server.requests_for(HOST, f"/wp-json/wp/v2/{route}")]


# The CfB catalogue, snapshot by snapshot


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
async def test_each_snapshot_yields_exactly_the_expected_items(snapshot: str) -> None:
    with FixtureServer(SITES, snapshot=snapshot) as server:
        crawl = await crawl_once(server, CFB_WP)
    assert crawl.complete and crawl.error is None and crawl.skipped == 0
    assert [as_expected(item) for item in crawl.items] == expected("cfb", f"{snapshot}.json")
    assert all(item.date is not None and item.date.precision == "day" for item in crawl.items)


async def test_the_snapshots_through_the_pipeline_announce_exactly_the_expected_changes(
    sqlite_engine: Engine,
) -> None:
    changes = expected("cfb", "changes.json")
    identity = identity_function(CFB_WP.identity)
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        for snapshot in SNAPSHOTS:
            server.snapshot = snapshot
            [outcome] = await run(server, sqlite_engine, CFB_WP)
            assert outcome.ok, outcome.error
            want = Counter(
                (kind, identity(link))
                for kind, links in changes.get(snapshot, {}).items()
                for link in links
            )
            assert run_events(sqlite_engine, outcome.run_id) == want, snapshot


async def test_the_category_slug_is_resolved_with_its_children() -> None:
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        await crawl_once(server, CFB_WP)
    children = [f"parent={cid}&per_page=100&_envelope=1" for cid in (9, *range(31, 38))]
    assert api_requests(server, "categories") == ["slug=inspiration-praksis&_envelope=1", *children]
    [posts] = api_requests(server, "posts")
    assert posts.startswith("categories=9,31,32,33,34,35,36,37&per_page=100&page=1&")


async def test_links_are_the_sources_each_post_cites() -> None:
    cited = expected("cfb", "links.json")
    for snapshot in ("snapshot-1", "snapshot-3"):
        with FixtureServer(SITES, snapshot=snapshot) as server:
            crawl = await crawl_once(server, CFB_WP)
        assert {item.url: list(item.links) for item in crawl.items} == {
            item.url: cited[item.url] for item in crawl.items
        }


# Posts that cite items of the KNOCA, VIVE and SKR fixtures, and how many, for cross-referencing.
CROSS_REFERENCES = {
    "saadan-faar-borgersamlinger-politisk-gennemslag": ("knoca", 1),
    "klimaborgerting-tendenser-udfordringer-og-muligheder": ("knoca", 2),
    "hvem-hvad-hvor-om-klimaborgersamlinger": ("knoca", 1),  # in KNOCA's old URL scheme
    "aeldre-borgere-som-medskabere-af-aeldreplejen": ("vive", 1),
    "saarbare-borgere-vil-ikke-vaere-en-maalgruppe": ("vive", 1),  # with utm_ parameters
    "hvad-kan-vi-laere-af-sverige": ("skr", 3),
    "dialog-om-komplekse-samfundsspoergsmaal": ("skr", 1),
    "borgerinddragelse-som-led-i-styringen": ("skr", 1),
}


@pytest.mark.parametrize(("slug", "cites"), CROSS_REFERENCES.items())
def test_some_posts_cite_items_of_the_other_sources_fixtures(
    slug: str, cites: tuple[str, int]
) -> None:
    source, count = cites
    identity = identity_function(shipped_config().source(source).identity)
    known = {identity(item["link"]) for item in expected(source, "snapshot-1.json")}
    links = expected("cfb", "links.json")[f"https://{HOST}/{slug}/"]
    assert sum(identity(link) in known for link in links) == count


# Falling back to the archive when the API is refused


def refusals() -> list[Any]:
    # As WordPress envelopes a refusal by a security plugin: HTTP 200, and PHP's [] for no headers.
    body = {"code": "rest_cannot_access", "message": "Adgang nægtet.", "data": {"status": 401}}
    envelope = {"body": body, "status": 401, "headers": []}
    enveloped = Fault(200, {"Content-Type": "application/json"}, json.dumps(envelope).encode())
    cases = [Fault(status, {"Content-Type": "application/json"}) for status in (401, 403, 404)]
    return [*cases, enveloped]


@pytest.mark.parametrize("refusal", refusals(), ids=["401", "403", "404", "enveloped-401"])
async def test_a_refused_api_falls_back_to_the_archive_with_the_same_identities(
    refusal: Fault, caplog: pytest.LogCaptureFixture
) -> None:
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        api = await crawl_once(server, CFB_WP)
        server.script(HOST, "/wp-json/wp/v2/categories", [refusal])
        with caplog.at_level(logging.WARNING, logger="scraper.adapters.wordpress"):
            archive = await crawl_once(server, CFB_WP)
    assert archive.complete and archive.error is None and archive.pages == 9
    assert [(i.key, i.title, i.summary, i.category) for i in archive.items] == [
        (i.key, i.title, i.summary, i.category) for i in api.items
    ]
    assert any("fallback" in note for note in archive.notes)
    assert "REST API refused" in caplog.text


async def test_switching_between_api_and_archive_announces_nothing_new(
    sqlite_engine: Engine,
) -> None:
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        [api] = await run(server, sqlite_engine, CFB_WP)
        server.script(HOST, "/wp-json/wp/v2/categories", [Fault(403)])
        [archive] = await run(server, sqlite_engine, CFB_WP)
        [back] = await run(server, sqlite_engine, CFB_WP)
    assert (api.status, archive.status, back.status) == (
        RunStatus.BASELINE,
        RunStatus.OK,
        RunStatus.OK,
    )
    assert (archive.new, archive.removed, archive.reappeared) == (0, 0, 0)
    assert (back.new, back.removed, back.reappeared) == (0, 0, 0)


async def test_switching_to_the_archive_announces_no_change_either(sqlite_engine: Engine) -> None:
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        await run(server, sqlite_engine, CFB_WP)
        server.script(HOST, "/wp-json/wp/v2/categories", [Fault(401)])
        [archive] = await run(server, sqlite_engine, CFB_WP)
    assert archive.changed == 0


async def test_a_refused_api_without_a_fallback_is_the_crawls_error() -> None:
    spec = CFB_WP.model_copy(update={"fallback": None})
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        server.script(HOST, "/wp-json/wp/v2/categories", [Fault(401)])
        crawl = await crawl_once(server, spec)
    assert crawl.error is not None and crawl.error.status == 401 and crawl.items == ()


# Errors that are not refusals stay errors


@pytest.mark.parametrize("route", ["categories", "posts"])
async def test_a_persistent_server_error_is_the_crawls_error_not_a_fallback(
    route: str, sqlite_engine: Engine
) -> None:
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        server.script(HOST, f"/wp-json/wp/v2/{route}", [Fault(500)] * 3)
        crawl = await crawl_once(server, CFB_WP)
        assert isinstance(crawl.error, TransientFetchError) and crawl.error.status == 500
        assert not crawl.complete and crawl.items == ()
        assert server.requests_for(HOST, "/category/inspiration-praksis/") == []
        server.script(HOST, f"/wp-json/wp/v2/{route}", [Fault(500)] * 3)
        [outcome] = await run(server, sqlite_engine, CFB_WP)
    assert outcome.status == RunStatus.FAILED and "500" in (outcome.error or "")


async def test_a_server_error_inside_the_envelope_is_an_error_too() -> None:
    envelope = {"body": {"code": "internal_server_error"}, "status": 500, "headers": {}}
    fault = Fault(200, {"Content-Type": "application/json"}, json.dumps(envelope).encode())
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        server.script(HOST, "/wp-json/wp/v2/posts", [fault])
        crawl = await crawl_once(server, CFB_WP)
    assert isinstance(crawl.error, FetchError) and crawl.error.status == 500
    assert crawl.items == ()


MALFORMED = {
    "truncated": (b'{"body":[{"id":5600,"link":"https:\\/\\/centerfor', "application/json"),
    "html-instead": (b"<!doctype html><title>Forside</title><p>Velkommen</p>", "text/html"),
    "not-enveloped": (b'[{"id": 5600}]', "application/json"),
    "deeply-nested": (b'{"body":' + b"[" * 100_000, "application/json"),
    "posts-not-a-list": (b'{"body":{"id":1},"status":200,"headers":{}}', "application/json"),
}


@pytest.mark.parametrize(("body", "content_type"), MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_answer_is_an_error_of_that_source_not_a_crash(
    body: bytes, content_type: str, sqlite_engine: Engine
) -> None:
    fault = Fault(200, {"Content-Type": content_type}, body)
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        server.script(HOST, "/wp-json/wp/v2/posts", [fault])
        crawl = await crawl_once(server, CFB_WP)
        server.script(HOST, "/wp-json/wp/v2/posts", [fault])
        [broken, other] = await run(server, sqlite_engine, CFB_WP, cfb_archive())
    assert isinstance(crawl.error, ExtractError) and not crawl.complete and crawl.items == ()
    assert crawl.error.source == "cfb" and "/wp-json/wp/v2/posts?" in crawl.error.url
    assert broken.status == RunStatus.FAILED and "[cfb]" in (broken.error or "")
    assert other.status == RunStatus.BASELINE


async def test_a_malformed_answer_closes_its_run_as_failed(sqlite_engine: Engine) -> None:
    fault = Fault(200, {"Content-Type": "application/json"}, b"{")
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        server.script(HOST, "/wp-json/wp/v2/posts", [fault])
        await run(server, sqlite_engine, CFB_WP)
    with Session(sqlite_engine) as session:
        assert [r.status for r in session.exec(select(Run)).all()] == [RunStatus.FAILED]


# Conditional requests


async def test_an_unchanged_rerun_is_answered_304_and_announces_nothing(
    sqlite_engine: Engine,
) -> None:
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        await run(server, sqlite_engine, CFB_WP)
        server.clear_requests()
        [again] = await run(server, sqlite_engine, CFB_WP)
    [posts] = server.requests_for(HOST, "/wp-json/wp/v2/posts")
    assert (posts.status, "if-none-match" in posts.headers) == (304, True)
    assert (again.status, again.items, again.pages) == (RunStatus.UNCHANGED, 87, 1)
    assert run_events(sqlite_engine, again.run_id) == Counter()


# Small WordPress sites of our own: descendants, pages, odd posts


def term(cid: int, name: str, parent: int = 0) -> dict[str, Any]:
    slug = name.split()[0].lower()
    return {"id": cid, "count": 1, "name": name, "slug": slug, "parent": parent}


def post(number: int, categories: list[int], **fields: Any) -> dict[str, Any]:
    """A post in the REST API's full shape: the adapter must ignore what it does not use."""
    return {
        "id": number,
        "date": f"2025-03-{number:02d}T10:15:00",
        "date_gmt": f"2025-03-{number:02d}T09:15:00",
        "guid": {"rendered": f"https://wp.test/?p={number}"},
        "slug": f"indlaeg-{number}",
        "status": "publish",
        "type": "post",
        "link": f"https://wp.test/indlaeg-{number}/",
        "title": {"rendered": f"Indl&aelig;g {number} &#8211; nyt"},
        "content": {"rendered": f'<p><a href="https://example.org/{number}">Kilde</a></p>'},
        "excerpt": {"rendered": f"<p>Resum&eacute; {number} [&hellip;]</p>\n"},
        "categories": categories,
        "_links": {"self": [{"href": f"https://wp.test/wp-json/wp/v2/posts/{number}"}]},
        **fields,
    }


class WpSite:
    """A WordPress REST API in tmp_path, answering in the `_envelope` form."""

    host = "wp.test"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.api = root / "snapshot-1" / self.host / "wp-json" / "wp" / "v2"
        self.api.mkdir(parents=True)
        routes = ["/wp-json/wp/v2/categories", "/wp-json/wp/v2/posts"]
        json_type = {"Content-Type": "application/json; charset=UTF-8"}
        sidecar = root / "snapshot-1" / self.host / "_headers.json"
        sidecar.write_text(json.dumps(dict.fromkeys(routes, json_type)), encoding="utf-8")

    def spec(self, **overrides: Any) -> WordPressSpec:
        values = {"name": "wp", "kind": "wordpress", "url": f"https://{self.host}/"}
        return WordPressSpec.model_validate(values | {"categories": ["viden"]} | overrides)

    def answer(self, url: str, body: Any, *, total_pages: int = 1) -> None:
        headers = {"X-WP-Total": len(body), "X-WP-TotalPages": total_pages, "Allow": "GET"}
        envelope = {"body": body, "status": 200, "headers": headers}
        name = url.removeprefix(f"https://{self.host}/wp-json/wp/v2/")
        (self.api / name).write_text(json.dumps(envelope), encoding="utf-8")

    def categories(self, tree: dict[int, list[dict[str, Any]]]) -> None:
        """The configured category "viden" (5) and the children of each category id."""
        self.answer(f"https://{self.host}/wp-json/wp/v2/categories?slug=viden&_envelope=1", [VIDEN])
        for parent, children in tree.items():
            url = f"https://{self.host}/wp-json/wp/v2/categories?parent={parent}&per_page=100"
            self.answer(f"{url}&_envelope=1", children)

    async def crawl(self, spec: WordPressSpec) -> tuple[Crawl, list[str]]:
        with FixtureServer(self.root, snapshot="snapshot-1") as server:
            crawl = await crawl_once(server, spec)
        return crawl, [f"{r.path}?{r.query}" for r in server.requests if r.path != "/robots.txt"]


VIDEN = term(5, "Viden")
TREE = {
    5: [term(6, "Forskning &amp; analyse", 5)],
    6: [term(7, "Rapporter", 6)],
    7: [],
}


@pytest.fixture
def wp_site(tmp_path: Path) -> WpSite:
    return WpSite(tmp_path / "sites")


async def test_descendant_categories_are_included_and_name_the_post(wp_site: WpSite) -> None:
    spec = wp_site.spec()
    wp_site.categories(TREE)
    posts = [post(1, [5]), post(2, [6, 5]), post(3, [7]), post(4, [8, 7])]
    wp_site.answer(posts_url(spec, [5, 6, 7], 1), posts)

    crawl, requested = await wp_site.crawl(spec)

    assert [item.category for item in crawl.items] == [
        "Viden",
        "Forskning & analyse",
        "Rapporter",
        "Rapporter",
    ]
    assert [q for q in requested if "parent=" in q] == [
        f"/wp-json/wp/v2/categories?parent={cid}&per_page=100&_envelope=1" for cid in (5, 6, 7)
    ]


async def test_without_children_only_the_configured_category_is_asked_for(
    wp_site: WpSite,
) -> None:
    spec = wp_site.spec(include_children=False)
    wp_site.categories(TREE)
    wp_site.answer(posts_url(spec, [5], 1), [post(1, [5]), post(2, [6, 5])])

    crawl, requested = await wp_site.crawl(spec)

    assert [item.category for item in crawl.items] == ["Viden", "Viden"]
    assert not [q for q in requested if "parent=" in q]


async def test_pages_are_followed_until_x_wp_totalpages(wp_site: WpSite) -> None:
    spec = wp_site.spec(per_page=2, include_children=False)
    wp_site.categories({})
    for page, numbers in enumerate([(1, 2), (3, 4), (5,), (6,)], start=1):
        wp_site.answer(posts_url(spec, [5], page), [post(n, [5]) for n in numbers], total_pages=3)

    crawl, requested = await wp_site.crawl(spec)

    assert crawl.complete and crawl.pages == 3
    assert [item.title for item in crawl.items] == [f"Indlæg {n} – nyt" for n in range(1, 6)]
    assert [q for q in requested if "/posts?" in q] == [
        posts_url(spec, [5], page).removeprefix("https://wp.test") for page in (1, 2, 3)
    ]


async def test_an_empty_page_ends_the_walk(wp_site: WpSite) -> None:
    spec = wp_site.spec(per_page=2, include_children=False)
    wp_site.categories({})
    wp_site.answer(posts_url(spec, [5], 1), [post(1, [5]), post(2, [5])], total_pages=5)
    wp_site.answer(posts_url(spec, [5], 2), [], total_pages=5)

    crawl, requested = await wp_site.crawl(spec)

    assert crawl.complete and crawl.pages == 2 and len(crawl.items) == 2
    assert [q for q in requested if "/posts?" in q and "page=3" in q] == []


async def test_posts_of_the_wrong_shape_are_skipped_and_counted(wp_site: WpSite) -> None:
    spec = wp_site.spec(include_children=False)
    wp_site.categories({})
    odd = [post(1, [5]), {"id": 2}, "post", post(4, [5], title={"rendered": 4}), post(5, [5])]
    wp_site.answer(posts_url(spec, [5], 1), odd)

    crawl, _ = await wp_site.crawl(spec)

    assert [item.url for item in crawl.items] == [
        "https://wp.test/indlaeg-1/",
        "https://wp.test/indlaeg-5/",
    ]
    assert crawl.skipped == 3 and crawl.items[0].summary == "Resumé 1"
    assert crawl.items[0].links == ("https://example.org/1",)
    assert str(crawl.items[0].date) == "2025-03-01"


async def test_an_unknown_category_slug_is_an_error(wp_site: WpSite) -> None:
    wp_site.categories({})
    wp_site.answer("https://wp.test/wp-json/wp/v2/categories?slug=borte&_envelope=1", [])
    with pytest.raises(ExtractError, match="no category with slug 'borte'"):
        await wp_site.crawl(wp_site.spec(categories=["borte"]))


# Pure parts


@pytest.mark.parametrize(
    ("excerpt", "summary"),
    [
        ("Et resumé. [&hellip;]", "Et resumé."),
        ("Et resumé […]", "Et resumé"),
        ("Et resumé. [...]", "Et resumé."),
        ("Et resumé. Læs mere", "Et resumé."),
        ("Et resumé. Læs mere om Titel – med streg »", "Et resumé."),
        ("Et resumé… Continue reading “Titel – med streg”", "Et resumé…"),
        ("Et resumé. […] Read more", "Et resumé."),
        ("Læs bl.a. om Seeds for Needs. Læs mere i rapporten.", None),
        ("Læs mere i rapporten om det.", None),
    ],
)
def test_read_more_tails_are_stripped_and_nothing_else(excerpt: str, summary: str | None) -> None:
    text = fragment_text(f"<p>{excerpt}</p>")
    assert strip_read_more(text, title="Titel – med streg") == (summary or text.strip())


def test_outbound_links_are_other_sites_and_documents() -> None:
    content = """<p><a href="https://www.nesta.org.uk/report/x/">Nesta</a>
    <a href="/om-os/">Om os</a> <a href="https://centerforborgerdialog.dk/category/x/">Kat</a>
    <a href="https://centerforborgerdialog.dk/wp-content/uploads/2024/01/billede.jpg">Foto</a>
    <a href="/wp-content/uploads/2024/01/rapport.PDF">PDF</a> <a href="mailto:a@b.dk">Mail</a>
    <a href="javascript:void(0)">JS</a> <a href="https://www.centerforborgerdialog.dk/x/">www</a>
    <a href="http://skr.se/a.html#top">SKR</a> <a href="#note">Note</a></p>"""
    links = outbound_links(
        content,
        page_url="https://centerforborgerdialog.dk/post/",
        own=("centerforborgerdialog.dk",),
    )
    assert links == (
        "https://www.nesta.org.uk/report/x/",
        "https://centerforborgerdialog.dk/wp-content/uploads/2024/01/rapport.PDF",
        "http://skr.se/a.html#top",
    )


def test_the_most_specific_category_names_the_post() -> None:
    categories = Categories(
        configured={9: "Inspiration til praksis"}, descendants={33: "Demokrati"}
    )
    assert categories.ids == [9, 33]
    assert categories.name_for([33, 9]) == categories.name_for([9, 33]) == "Demokrati"
    assert categories.name_for([4, 9]) == "Inspiration til praksis"
    assert categories.name_for([4]) is None


def test_a_post_of_the_wrong_shape_has_no_fields() -> None:
    categories = Categories(configured={5: "Viden"}, descendants={})
    for raw in (None, [], {"link": "https://wp.test/x/"}, {"title": {"rendered": "T"}}):
        assert post_record(raw, categories=categories, own=("wp.test",)).fields == {}


# The spec


def test_the_shipped_cfb_source_is_this_block() -> None:
    assert shipped_config().source("cfb") == CFB_WP


def test_the_fallback_inherits_what_makes_its_items_the_same_items() -> None:
    assert isinstance(CFB_WP, WordPressSpec) and CFB_WP.fallback is not None
    fallback = CFB_WP.fallback
    assert (fallback.kind, fallback.name, fallback.language) == ("html", "cfb", "da")
    assert fallback.allowed_domains == CFB_WP.allowed_domains == (HOST,)
    assert fallback.identity == CFB_WP.identity
    assert CFB_WP.api_root == f"https://{HOST}/wp-json/wp/v2/"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("    api: https://example.org/wp-json/wp/v2/\n", "api .* is outside allowed_domains"),
        ("    categories: []\n", "categories"),
        ("    post_type: Posts!\n", "post_type"),
        ("    per_page: 500\n", "per_page"),
        ("    fallback: {url: https://example.org/, item: li, fields: {title: a, link: a @href}}\n",
         "fallback.url .* is outside allowed_domains"),
        ("    fallback: {name: x, url: https://centerforborgerdialog.dk/, item: li,"
         " fields: {title: a, link: a @href}}\n", "fallback takes only"),
        ("    fallback: {url: https://centerforborgerdialog.dk/, item: li, fields: {title: a}}\n",
         "fallback.fields.link"),
    ],
)  # fmt: skip
def test_a_wrong_key_is_a_config_error_that_names_it(change: str, message: str) -> None:
    head, _, _ = CFB_WP_YAML.partition("    fallback:")
    lines = [line for line in head.splitlines(keepends=True) if not line.startswith(change[:8])]
    with pytest.raises(ConfigError, match=message):
        parse_config("".join(lines) + change, origin="test")
