"""The `json` kind: field paths, request URLs, pagination, hostile responses, and OECD end to end.

Sites are served over loopback by FixtureServer: generated ones in tmp_path, and the modelled
OECD search API in tests/fixtures/sites (built by tests/fixtures/build_oecd.py).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from radar.config import parse_config
from radar.errors import ConfigError, ExtractError
from radar.fixture_server import FixtureServer
from radar.items import Precision
from radar.pipeline import run_sources
from scraper.adapters import adapter_for, jsonapi
from scraper.adapters.jsonapi import JsonPath, JsonSpec, count_of, scalar_text
from scraper.crawl import Crawl, PageMemo
from scraper.fetch import Fetcher
from scraper.identity import identity_function
from scraper.spec import SourceSpec
from storage.models import Event, Item, Run, RunStatus
from tests.conftest import EXPECTED, SITES, fast_crawler
from tests.fixtures.build_oecd import OECD_RSS_YAML, OECD_YAML, render_all
from tests.test_sources import as_expected

HOST = "api.example.org"
API = f"https://{HOST}/v1/items.json"


# ---------------------------------------------------------------------------------------------
# Paths


DOCUMENT: dict[str, Any] = {
    "results": [
        {
            "title": "A",
            "n": 7,
            "flag": True,
            "tags": [
                {"id": "oecd-languages:en", "title": "English"},
                "not an object",
                {"id": 42, "title": "numeric id"},
                {"id": "oecd-content-types:publications/reports", "title": "Reports"},
            ],
            "meta": {"a.b": "dotted key", "0": "zero key"},
        }
    ]
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("results.0.title", "A"),
        ("results.0.tags.0.title", "English"),
        ("results.0.tags[id^=oecd-content-types:].title", "Reports"),
        ("results.0.tags[id=oecd-languages:en].title", "English"),
        ("results.0.tags[title=Reports].id", "oecd-content-types:publications/reports"),
        ("results.0.meta.0", "zero key"),  # digits on an object are a key
        ("results.0.tags[id^=oecd-content-types:publications/reports].title", "Reports"),
    ],
)
def test_a_path_finds_keys_positions_and_the_first_matching_object(path: str, value: str) -> None:
    assert JsonPath.parse(path).resolve(DOCUMENT) == value


@pytest.mark.parametrize(
    "path",
    [
        "results.0.missing",  # no such key
        "results.1.title",  # past the end of the list
        "results.0.title.0",  # a string is not a list
        "results.0.tags.x",  # a list has no keys
        "results.0.n.title",  # a number has no keys
        "results.0.tags[id=oecd-languages].title",  # equality is exact
        "results.0.tags[id^=nothing:].title",  # no object matches
        "results.0.meta[id=x].title",  # a filter needs a list
        "results.0.tags[id=42].title",  # a number never equals text
    ],
)
def test_a_path_that_does_not_fit_the_data_gives_nothing(path: str) -> None:
    assert JsonPath.parse(path).resolve(DOCUMENT) is None


@pytest.mark.parametrize("path", ["", ".", "a..b", "a.", "a[", "a[b]", "a[b=c", "a[=c]", "a]b"])
def test_a_malformed_path_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="invalid path"):
        JsonPath.parse(path)


def test_a_path_is_written_back_as_it_was_read() -> None:
    text = "results.0.tags[id^=oecd-content-types:].title"
    assert str(JsonPath.parse(text)) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [("x", "x"), ("", ""), (2024, "2024"), (-1, "-1"), (True, None), (False, None),
     (1.5, None), (None, None), ([1], None), ({"a": 1}, None)],
)  # fmt: skip
def test_only_strings_and_integers_become_field_text(value: object, text: str | None) -> None:
    assert scalar_text(value) == text


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (40, 40),
        ("40", 40),
        (0, 0),
        (-3, None),
        ("4O", None),
        (True, None),
        (40.0, None),
        ("9" * 5000, None),
        (10**100, None),
    ],
)
def test_a_total_is_a_non_negative_integer_or_digits(value: object, count: int | None) -> None:
    assert count_of(value) == count


# ---------------------------------------------------------------------------------------------
# Configuration and request URLs


def spec_of(**keys: Any) -> JsonSpec:
    values: dict[str, Any] = {
        "name": "api",
        "kind": "json",
        "url": API,
        "language": "en",
        "items": "results",
        "fields": {"title": "title", "link": "url", "summary": "text", "date": "date"},
    }
    values.update(keys)
    return JsonSpec.model_validate(values)


def test_request_urls_keep_one_documented_parameter_order() -> None:
    spec = spec_of(
        url=f"{API}?siteName=oecd&interfaceLanguage=en",
        params={
            "facets": ["oecd-languages:en", "oecd-content-types:publications/reports"],
            "searchTerm": "deliberative democracy",
            "minPublicationYear": 2020,
            "hiddenFacets": "oecd-search-config-pillars:publications",
        },
        pagination={"param": "page", "size_param": "pageSize", "size": 20},
    )
    assert spec.request_url(3) == (
        f"{API}?siteName=oecd&interfaceLanguage=en"
        "&facets=oecd-languages:en&facets=oecd-content-types:publications%2Freports"
        "&searchTerm=deliberative%20democracy&minPublicationYear=2020"
        "&hiddenFacets=oecd-search-config-pillars:publications&pageSize=20&page=2"
    )


def test_offsets_count_items_and_start_where_told() -> None:
    spec = spec_of(pagination={"param": "offset", "start": 1, "size": 25, "style": "offset"})
    assert [spec.request_url(n) for n in (1, 2, 3)] == [
        f"{API}?offset=1",
        f"{API}?offset=26",
        f"{API}?offset=51",
    ]


def test_without_pagination_the_url_is_requested_as_written_less_its_fragment() -> None:
    assert spec_of(url=f"{API}?a=1#top").request_url(1) == f"{API}?a=1"
    assert spec_of(url=f"{API}?", params={"q": "x&y"}).request_url(1) == f"{API}?q=x%26y"


def config_with(source: str) -> str:
    return f"crawler: {{contact_url: 'https://example.dk/kontakt'}}\nsources:\n{source}"


SOURCE = """
  - name: api
    kind: json
    url: https://api.example.org/v1/items.json?page=0
    items: results
    fields: {title: title, link: url}
    pagination: {param: page, size: 10}
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("?page=0", ""), None),
        ((None, None), "sources[0] (api): page: set by pagination, not url or params"),
        (("items: results", "items: 'results['"), "sources[0] (api).items: invalid path"),
        (("{title: title,", "{title: 'a..b',"), "sources[0] (api).fields.title: invalid path"),
        (("size: 10", "size: 0"), "sources[0] (api).pagination.size: Input should be greater"),
        (("size: 10", "size: 10, order: asc"), "sources[0] (api).pagination.order: unknown key"),
        (("items: results", "items: results\n    params: {q: [1, {x: 2}]}"), "params.q"),
    ],
)
def test_configuration_errors_name_the_key(
    change: tuple[str | None, str | None], message: str | None
) -> None:
    old, new = change
    text = SOURCE.replace(old, new) if old is not None and new is not None else SOURCE
    if message is None:
        [source] = parse_config(config_with(text)).sources
        assert isinstance(source, JsonSpec)
        return
    with pytest.raises(ConfigError) as caught:
        parse_config(config_with(text))
    assert message in str(caught.value)


# ---------------------------------------------------------------------------------------------
# Generated API sites


class ApiSite:
    """A JSON API in tmp_path: `page(query, document)` writes the answer to one request."""

    def __init__(self, root: Path, snapshot: str = "snapshot-1") -> None:
        self.root = root
        self.snapshot = snapshot

    def answer(self, query: str, document: object) -> None:
        self.raw(query, json.dumps(document).encode())

    def raw(self, query: str, body: bytes) -> None:
        path = self.root / self.snapshot / HOST / "v1" / f"items.json{'?' + query if query else ''}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def entries(first: int, last: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"title": f"Item {n}", "url": f"/items/{n}", "text": f"About {n}", "date": "2024-04-09"}
        | extra
        for n in range(first, last + 1)
    ]


async def crawl(
    root: Path, spec: SourceSpec, *, snapshot: str = "snapshot-1", memos: Any = None
) -> tuple[Crawl, list[str]]:
    """Crawl `spec` against the site in `root`; also return the queries the server received."""
    with FixtureServer(root, snapshot=snapshot) as server:
        host_map = {host: server.address for host in server.hosts()}
        async with Fetcher(fast_crawler(), host_map=host_map) as fetcher:
            result = await adapter_for(spec.kind).crawl(spec, fetcher=fetcher, memos=memos or {})
        return result, [r.query for r in server.requests if r.path != "/robots.txt"]


PAGED = {"param": "page", "size_param": "size", "size": 3}


async def test_pages_are_read_until_one_holds_fewer_than_the_page_size(tmp_path: Path) -> None:
    site = ApiSite(tmp_path)
    for page, (first, last) in enumerate([(1, 3), (4, 6), (7, 7)]):
        site.answer(f"size=3&page={page}", {"results": entries(first, last)})
    result, queries = await crawl(tmp_path, spec_of(pagination=PAGED))
    assert queries == ["size=3&page=0", "size=3&page=1", "size=3&page=2"]
    assert result.complete and result.error is None
    assert [item.url for item in result.items] == [f"https://{HOST}/items/{n}" for n in range(1, 8)]


async def test_a_total_ends_the_walk_on_a_full_last_page(tmp_path: Path) -> None:
    site = ApiSite(tmp_path)
    for page in range(2):
        site.answer(
            f"size=3&page={page}",
            {"meta": {"count": "6"}, "results": entries(3 * page + 1, 3 * page + 3)},
        )
    # No page=2 answer exists: asking for it would fail the crawl.
    result, queries = await crawl(tmp_path, spec_of(pagination={**PAGED, "total": "meta.count"}))
    assert queries == ["size=3&page=0", "size=3&page=1"]
    assert result.complete and len(result.items) == 6


async def test_an_empty_page_ends_the_walk_and_a_total_it_contradicts_makes_it_incomplete(
    tmp_path: Path,
) -> None:
    site = ApiSite(tmp_path)
    for total in (3, 99):
        site.answer("size=3&page=0", {"total": total, "results": entries(1, 3)[:total]})
        site.answer("size=3&page=1", {"total": total, "results": []})
        paging = {**PAGED, "total": "total"}
        result, queries = await crawl(tmp_path, spec_of(pagination=paging))
        assert queries == ["size=3&page=0"] if total == 3 else ["size=3&page=0", "size=3&page=1"]
        assert len(result.items) == 3 and result.complete is (total == 3)


async def test_a_short_page_while_total_counts_more_leaves_the_crawl_incomplete(
    tmp_path: Path,
) -> None:
    # The API caps its pages at 2 though 3 were asked for: page=1 would skip an item, so the
    # walk stops, and nothing it did not read may be called removed.
    ApiSite(tmp_path).answer("size=3&page=0", {"total": 5, "results": entries(1, 2)})
    result, queries = await crawl(tmp_path, spec_of(pagination={**PAGED, "total": "total"}))
    assert queries == ["size=3&page=0"] and len(result.items) == 2
    assert not result.complete and not result.capped  # not a head read whole: items went unread
    assert result.notes == (f"{API}?size=3&page=0: 2 items, fewer than size, yet total is 5",)


async def test_offset_paging_with_a_top_level_list(tmp_path: Path) -> None:
    site = ApiSite(tmp_path)
    site.answer("limit=2&offset=0", entries(1, 2))
    site.answer("limit=2&offset=2", entries(3, 3))
    paging = {"param": "offset", "size_param": "limit", "size": 2, "style": "offset"}
    result, queries = await crawl(tmp_path, spec_of(items=None, pagination=paging))
    assert queries == ["limit=2&offset=0", "limit=2&offset=2"]
    assert [item.title for item in result.items] == ["Item 1", "Item 2", "Item 3"]


async def test_max_pages_leaves_the_crawl_incomplete(tmp_path: Path) -> None:
    site = ApiSite(tmp_path)
    for page in range(3):
        site.answer(f"size=3&page={page}", {"results": entries(3 * page + 1, 3 * page + 3)})
    result, queries = await crawl(tmp_path, spec_of(pagination=PAGED, max_pages=2))
    assert queries == ["size=3&page=0", "size=3&page=1"]
    # Capped, not failed: the head of the listing was read as far as the source allows.
    assert not result.complete and result.capped and len(result.items) == 6


async def test_values_of_any_type_are_coerced_or_dropped(tmp_path: Path) -> None:
    site = ApiSite(tmp_path)
    site.answer(
        "",
        {
            "results": [
                {"title": 2024, "url": "/a", "text": ["list"], "date": {"y": 2024}},
                {"title": True, "url": "/b"},  # no usable title: skipped
                {"title": "No link", "url": None},  # skipped
                "not an object",  # skipped
                None,  # skipped
                {"title": "  Spaced\u00a0 out\x07 ", "url": "/c", "text": "<b>kept as text</b>"},
            ]
        },
    )
    result, _ = await crawl(tmp_path, spec_of())
    assert result.skipped == 4
    first, second = result.items
    assert (first.title, first.summary, first.date) == ("2024", None, None)
    assert (second.title, second.summary) == ("Spaced out", "<b>kept as text</b>")


async def test_dates_keep_the_precision_the_api_gives(tmp_path: Path) -> None:
    site = ApiSite(tmp_path)
    dates = ["2024-04-09T23:30:00-02:00", "2024-04", "2024", "9 April 2024", "soon", 20240409]
    site.answer("", {"results": [{"title": str(d), "url": f"/{i}", "date": d} for i, d in
                                 enumerate(dates)]})  # fmt: skip
    result, _ = await crawl(tmp_path, spec_of())
    got = [(str(i.date), i.date.precision) if i.date else None for i in result.items]
    assert got == [
        ("2024-04-09", Precision.DAY),
        ("2024-04", Precision.MONTH),
        ("2024", Precision.YEAR),
        ("2024-04-09", Precision.DAY),
        None,
        None,  # a bare number is not read as a date
    ]


async def test_items_beyond_the_per_page_cap_leave_the_crawl_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonapi, "MAX_ITEMS_PER_PAGE", 4)
    ApiSite(tmp_path).answer("", {"results": entries(1, 6)})
    result, _ = await crawl(tmp_path, spec_of())
    assert len(result.items) == 4 and not result.complete and not result.capped
    assert result.notes == (f"{API}: read 4 of 6 items",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!doctype html><p>Maintenance</p>", "not valid JSON"),
        (b'{"results": [', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),  # nesting too deep to parse
        (b'{"results": {"0": {}}}', "no list of items here"),
        (b'{"data": []}', "no list of items here"),
        (b"null", "no list of items here"),
    ],
)
async def test_a_malformed_response_is_an_extract_error_for_the_source(
    tmp_path: Path, body: bytes, message: str
) -> None:
    ApiSite(tmp_path).raw("", body)
    result, _ = await crawl(tmp_path, spec_of())
    assert isinstance(result.error, ExtractError) and message in str(result.error)
    assert (result.error.source, result.error.url) == ("api", API)
    assert not result.complete and result.items == ()


async def test_a_malformed_later_page_keeps_the_earlier_items_but_removes_nothing(
    tmp_path: Path,
) -> None:
    site = ApiSite(tmp_path)
    site.answer("size=3&page=0", {"results": entries(1, 3)})
    site.raw("size=3&page=1", b'{"results": "maintenance"}')
    result, _ = await crawl(tmp_path, spec_of(pagination=PAGED))
    assert isinstance(result.error, ExtractError) and result.error.selector == "results"
    assert not result.complete and len(result.items) == 3


async def test_an_unchanged_api_is_answered_304_and_its_items_carried(tmp_path: Path) -> None:
    site = ApiSite(tmp_path)
    site.answer("size=3&page=0", {"results": entries(1, 3)})
    site.answer("size=3&page=1", {"results": entries(4, 5)})
    spec = spec_of(pagination=PAGED)
    first, _ = await crawl(tmp_path, spec)
    memos: dict[str, PageMemo] = {memo.url: memo for memo in first.memos}
    second, queries = await crawl(tmp_path, spec, memos=memos)
    assert queries == ["size=3&page=0", "size=3&page=1"]
    assert second.all_not_modified and second.items == ()
    assert second.carried_keys == {item.key for item in first.items}


# ---------------------------------------------------------------------------------------------
# OECD, end to end over the modelled API and RSS service


def oecd_specs() -> dict[str, SourceSpec]:
    config = parse_config(config_with(OECD_YAML + OECD_RSS_YAML))
    return {spec.name: spec for spec in config.sources}


OECD = oecd_specs()
REISSUED = "id:339306da"


def test_the_oecd_fixtures_are_exactly_what_their_build_script_writes() -> None:
    stale = [path for path, data in render_all().items() if path.read_bytes() != data]
    assert stale == []


async def test_the_oecd_api_yields_the_expected_items_page_by_page() -> None:
    spec = OECD["oecd"]
    for snapshot, pages in (("snapshot-1", 2), ("snapshot-2", 2)):
        result, queries = await crawl(SITES, spec, snapshot=snapshot)
        assert result.complete and result.error is None and result.skipped == 0
        assert result.pages_fetched == pages and queries[-1].endswith("&pageSize=20&page=1")
        want = json.loads((EXPECTED / "oecd" / f"{snapshot}.json").read_text(encoding="utf-8"))
        assert [as_expected(item) for item in result.items] == want


async def test_one_publication_under_two_url_shapes_on_two_pages_is_one_identity() -> None:
    result, _ = await crawl(SITES, OECD["oecd"])
    twins = [item for item in result.items if item.key == REISSUED]
    assert [item.url.split("/publications/")[1] for item in twins] == [
        "2024/05/innovative-citizen-participation-and-new-democratic-institutions_339306da.html",
        "innovative-citizen-participation-and-new-democratic-institutions_339306da-en.html",
    ]
    # On different pages: the first page's memo has the key, and so has the second's.
    assert [REISSUED in memo.item_keys for memo in result.memos] == [True, True]
    assert len({item.key for item in result.items}) == len(result.items) - 1


def events_of(engine: Engine, run_id: int | None) -> Counter[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(Event.kind, Item.key)
            .join(Item, col(Item.id) == col(Event.item_id))
            .where(Event.run_id == run_id)
        )
        return Counter((str(kind), key) for kind, key in rows)


@pytest.mark.parametrize("name", ["oecd", "oecd-rss"])
async def test_both_oecd_variants_announce_exactly_the_expected_changes(
    name: str, sqlite_engine: Engine
) -> None:
    spec = OECD[name]
    identity = identity_function(spec.identity)
    changes = json.loads((EXPECTED / name / "changes.json").read_text(encoding="utf-8"))
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        host_map = {host: server.address for host in server.hosts()}
        for snapshot in ("snapshot-1", "snapshot-2"):
            server.snapshot = snapshot
            async with Fetcher(fast_crawler(), host_map=host_map) as fetcher:
                [outcome] = await run_sources([spec], engine=sqlite_engine, fetcher=fetcher)
            assert outcome.ok, outcome.error
            want = Counter(
                (kind, identity(link))
                for kind, links in changes.get(snapshot, {}).items()
                for link in links
            )
            assert events_of(sqlite_engine, outcome.run_id) == want, snapshot
    with Session(sqlite_engine) as session:
        keys = session.exec(select(Item.key)).all()
    assert keys.count(REISSUED) == 1
    assert len(keys) == 38 + 2  # every publication ever seen, each once


# ---------------------------------------------------------------------------------------------
# Through the pipeline, and a bug found in files that are not this adapter's


async def test_a_malformed_response_fails_the_run_on_record(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    ApiSite(tmp_path).raw("", b"<!doctype html>")
    with FixtureServer(tmp_path, snapshot="snapshot-1") as server:
        async with Fetcher(fast_crawler(), host_map={HOST: server.address}) as fetcher:
            [outcome] = await run_sources([spec_of()], engine=sqlite_engine, fetcher=fetcher)
    assert outcome.status is RunStatus.FAILED
    with Session(sqlite_engine) as session:
        [run] = session.exec(select(Run)).all()
    assert run.status == RunStatus.FAILED and "not valid JSON" in (run.error or "")


async def test_a_duplicate_on_a_304_page_and_a_fetched_page_is_not_a_change(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    spec = spec_of(pagination=PAGED, identity={"id_pattern": r"/items/(\d+)"})
    first_page = entries(1, 3)
    twin = {"title": "Item 2", "url": "/items/2/", "text": "About 2", "date": "2020-01-01"}
    for snapshot, last in (("snapshot-1", "About 5"), ("snapshot-2", "About 5, edited")):
        site = ApiSite(tmp_path, snapshot)
        site.answer("size=3&page=0", {"results": first_page})
        site.answer("size=3&page=1", {"results": [twin, *entries(5, 5, text=last)]})
    outcomes = []
    with FixtureServer(tmp_path, snapshot="snapshot-1") as server:
        for snapshot in ("snapshot-1", "snapshot-2"):
            server.snapshot = snapshot
            async with Fetcher(fast_crawler(), host_map={HOST: server.address}) as fetcher:
                outcomes += await run_sources([spec], engine=sqlite_engine, fetcher=fetcher)
    assert events_of(sqlite_engine, outcomes[1].run_id) == Counter({("changed", "id:5"): 1})
