"""A run whose pages mostly answered 304 loads the compared columns of only the items it read.

The items on 304 pages, and those gone from the listing, need only their ids and whether they
were removed; `stored_items` loads those for all, and the full columns by id for the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, select

from scraper.crawl import PageMemo
from storage.models import Source
from storage.repository import CHUNK, stored_items
from tests.db_fixtures import SOURCE_URL, html_spec, make_item, memo, record
from tests.test_storage import stored_events
from tests.test_storage import stored_items as item_rows

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

PAGES = [f"{SOURCE_URL}?page={n}" for n in range(1, 5)]


def keys_on(page: int) -> list[str]:
    return [f"p{page}-{n}" for n in range(5)]


def listing() -> list[list[str]]:
    return [keys_on(page) for page in range(1, 5)]


def memos(pages: list[list[str]]) -> list[PageMemo]:
    return [
        memo(url, keys, etag=f'"{n}"')
        for n, (url, keys) in enumerate(zip(PAGES, pages, strict=True))
    ]


def test_one_changed_page_among_304s_records_exactly_its_changes(engine: Engine) -> None:
    spec = html_spec()
    pages = listing()
    record(engine, spec, [make_item(k) for page in pages for k in page], memos=memos(pages))
    # Page 2 changed: one item edited, one whose link moved, one gone, one new in its place.
    read = [
        make_item("p2-0", title="Ny titel"),
        make_item("p2-1", url="https://example.dk/moved"),
        make_item("p2-2"),
        make_item("p2-3"),
        make_item("p2-new"),
    ]
    changed = [pages[0], [item.key for item in read], pages[2], pages[3]]
    carried = [k for n, page in enumerate(changed) if n != 1 for k in page]

    outcome = record(
        engine,
        spec,
        read,
        carried=carried,
        memos=memos(changed),
        pages_fetched=1,
        pages_not_modified=3,
    )

    assert sorted(stored_events(engine, outcome.run_id)) == [
        ("changed", "p2-0"),
        ("new", "p2-new"),
        ("removed", "p2-4"),
    ]
    rows = item_rows(engine)
    assert rows["p2-1"].url == "https://example.dk/moved"
    assert rows["p2-0"].title == "Ny titel" and rows["p2-4"].removed_at is not None
    assert all(rows[k].removed_at is None for k in carried)


def test_the_ids_and_removals_are_the_same_whichever_columns_are_loaded(engine: Engine) -> None:
    spec = html_spec()
    keys = [f"k{n}" for n in range(2 * CHUNK + 10)]
    record(engine, spec, [make_item(k) for k in keys])
    record(engine, spec, [make_item(k) for k in keys[5:]])  # the first five removed
    read = keys[:3] + keys[CHUNK:] + ["never-stored"]  # past one IN (...) list

    with Session(engine) as session:
        source_id = session.exec(select(Source.id)).one()
        assert source_id is not None
        every = stored_items(session, source_id, read=read, all_columns=True)
        some = stored_items(session, source_id, read=read, all_columns=False)

    assert some.ids == every.ids and len(some.ids) == len(keys)
    assert some.active == every.active == set(keys[5:])
    assert set(some.compared) == set(read) - {"never-stored"}
    assert some.compared == {key: every.compared[key] for key in some.compared}
    assert some.compared["k0"].removed and not some.compared[keys[CHUNK]].removed
