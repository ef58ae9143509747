"""storage.bulk.insert_rows stores exactly what the ORM would, on SQLite and on PostgreSQL.

COPY's text format has its own escapes, and SQLite's executemany gets values converted by
hand-picked bind processors, so every awkward value goes through both and is read back
through the ORM.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.bulk import insert_rows, table_of
from storage.models import Item, Source
from storage.new_items import column_defaults

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

AWKWARD = [
    "plain",
    "tab\there, newline\nhere, carriage\rreturn",
    "back\\slash \\N \\. and a lone \\",
    "quotes ' \" and , ; | separators",
    "Æblegrød på ø — “smart” ‘quotes’ and emoji 🗳️",
    "",
]
WHEN = dt.datetime(2026, 11, 29, 23, 15, 7, 123456, tzinfo=dt.UTC)
ELSEWHERE = dt.datetime(2026, 11, 30, 1, 15, 7, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def _source(engine: Engine) -> int:
    with Session(engine) as session:
        source = Source(name="bulk", title="Bulk", kind="html", url="https://example.org/")
        session.add(source)
        session.commit()
        assert source.id is not None
        return source.id


def test_awkward_values_round_trip(engine: Engine) -> None:
    source_id = _source(engine)
    count = len(AWKWARD)
    columns: dict[str, list[Any]] = {
        "key": [f"k{n}" for n in range(count)],
        "key_hash": [f"h{n}" for n in range(count)],
        "url": [f"https://example.org/{n}" for n in range(count)],
        "title": AWKWARD,
        "summary": [None, *AWKWARD[1:]],
        "links": [[text] for text in AWKWARD],
        "matched_terms": [["borgerinddrag*", text] for text in AWKWARD],
        # Repeated dates are converted once each; None stays NULL.
        "date_value": [dt.date(2026, 1, n % 3 + 1) if n else None for n in range(count)],
        "relevance": [n / 10 for n in range(count)],
        "announced": [n % 2 == 0 for n in range(count)],
        "updated_at": [WHEN, ELSEWHERE, *[WHEN] * (count - 2)],
    }
    same = {
        "source_id": source_id,
        "fingerprint": "f" * 64,
        "first_seen": ELSEWHERE,
        "removed_at": None,  # NULL in every row: left out of the INSERT
        "review_state": "new",
    }
    with Session(engine) as session:
        insert_rows(session.connection(), table_of(Item), columns, same=same)
        session.commit()

    with Session(engine) as session:
        rows = session.exec(select(Item).order_by(col(Item.key))).all()
    assert [row.title for row in rows] == AWKWARD
    assert [row.summary for row in rows] == [None, *AWKWARD[1:]]
    assert [row.links for row in rows] == [[text] for text in AWKWARD]
    assert [row.matched_terms for row in rows] == columns["matched_terms"]
    assert [row.date_value for row in rows] == columns["date_value"]
    assert [row.relevance for row in rows] == pytest.approx(columns["relevance"])
    assert [row.announced for row in rows] == columns["announced"]
    # Aware datetimes come back as the same instant, in UTC.
    assert [row.updated_at for row in rows] == columns["updated_at"]
    assert rows[1].updated_at.tzinfo == dt.UTC
    assert {(row.first_seen, row.removed_at) for row in rows} == {(ELSEWHERE, None)}
    assert {row.source_id for row in rows} == {source_id}


def test_the_callers_strings_do_not_keep_a_utf8_copy(engine: Engine) -> None:
    # A driver binding a non-ASCII str keeps its UTF-8 form inside it for life; the items a
    # run stores live until the run ends, so they must not be the objects bound.
    source_id = _source(engine)
    titles = ["".join(["Æblegrød på ", str(n)]) for n in range(3)]
    summaries = ["".join(["Borgerinddragelse i fællesskab ", str(n)]) for n in range(3)]
    sizes = [sys.getsizeof(text) for text in (*titles, *summaries)]
    columns: dict[str, list[Any]] = {
        "key": [f"k{n}" for n in range(3)],
        "key_hash": [f"h{n}" for n in range(3)],
        "url": [f"https://example.org/{n}" for n in range(3)],
        "title": titles,
        "summary": summaries,
    }
    same = {"source_id": source_id, "fingerprint": "f" * 64, "first_seen": WHEN}
    same |= {"updated_at": WHEN}
    same |= {k: v for k, v in column_defaults(Item).items() if k not in {*columns, *same}}

    with Session(engine) as session:
        insert_rows(session.connection(), table_of(Item), columns, same=same)
        session.commit()
        stored = session.exec(select(Item.title, Item.summary).order_by(col(Item.key))).all()

    assert [sys.getsizeof(text) for text in (*titles, *summaries)] == sizes
    assert [tuple(row) for row in stored] == list(zip(titles, summaries, strict=True))


def test_nothing_to_insert_is_no_statement(engine: Engine) -> None:
    with Session(engine) as session:
        insert_rows(session.connection(), table_of(Item), {"key": []}, same={"source_id": 1})
        session.commit()
        assert session.exec(select(Item)).all() == []


def test_columns_of_unequal_length_are_refused(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(ValueError, match="unequal length"):
        insert_rows(session.connection(), table_of(Item), {"key": ["a", "b"], "title": ["a"]})


def test_json_is_stored_as_the_same_text_the_orm_stores(engine: Engine) -> None:
    # The diff compares stored links as JSON text: a bulk insert must write the very text
    # an ORM insert writes, or unchanged items would look changed.
    source_id = _source(engine)
    values: list[list[str]] = [[], ["https://example.org/a"], ["æ", 'q"uote', "\\", "🗳️"]]
    with Session(engine) as session:
        for n, links in enumerate(values):
            session.add(
                Item(
                    source_id=source_id,
                    key=f"orm{n}",
                    key_hash=f"orm{n}",
                    url="https://example.org/",
                    title="t",
                    fingerprint="f",
                    links=links,
                )
            )
        columns: dict[str, list[Any]] = {
            "key": [f"bulk{n}" for n in range(len(values))],
            "key_hash": [f"bulk{n}" for n in range(len(values))],
            "links": values,
        }
        same = {"source_id": source_id, "url": "https://example.org/", "title": "t"}
        same |= {"fingerprint": "f", "announced": False, "relevance": 0.0, "review_state": "new"}
        same |= {"first_seen": WHEN, "updated_at": WHEN}
        insert_rows(session.connection(), table_of(Item), columns, same=same)
        session.commit()
        text = sa.cast(col(Item.links), sa.Text)
        stored = {key: value for key, value in session.execute(sa.select(col(Item.key), text))}
    for n in range(len(values)):
        assert stored[f"bulk{n}"] == stored[f"orm{n}"]
    assert stored["bulk0"] == "[]"
