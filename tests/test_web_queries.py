"""The store's answers behind the review page, on SQLite and PostgreSQL: filters, search
(case-insensitive, with LIKE's wildcards taken literally), paging and version history."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.queries import (
    ItemFilter,
    announced_items,
    announced_languages,
    count_announced,
    item_history,
)
from tests.db_fixtures import html_spec, make_item, record

SPEC = html_spec("example")
SEED = make_item("seed", "Gammel nyhed")
NEWS = [
    make_item("a", "Borgerpanel: 100% enighed", summary="Om DELIBERATION", language="da"),
    make_item("b", "Borgerpanel: 100 deltagere", summary="snake_case", language="da"),
    make_item("c", "Citizens' assembly", summary="Climate", language="en"),
]


def test_search_filters_paging_and_history(engine: Engine) -> None:
    record(engine, SPEC, [SEED])
    record(engine, SPEC, [SEED, *NEWS])
    record(engine, SPEC, [SEED, *NEWS[:2], make_item("c", "Citizens' assemblies", language="en")])

    def titles(**only: Any) -> list[str]:
        with Session(engine) as session:
            rows = announced_items(session, only=ItemFilter(**only))
            assert count_announced(session, only=ItemFilter(**only)) == len(rows)
        return sorted(row.title for row in rows)

    assert titles(search="100%") == ["Borgerpanel: 100% enighed"]
    assert titles(search="deliberation") == ["Borgerpanel: 100% enighed"]
    assert titles(search="n_k") == []  # "_" is no wildcard: "snake" must not match
    assert titles(search="snake_case") == ["Borgerpanel: 100 deltagere"]
    assert titles(search="borgerpanel 100") == titles(language="da")
    assert titles(language="en") == ["Citizens' assemblies"]
    assert titles(states=("accepted",)) == []
    with Session(engine) as session:
        assert announced_languages(session) == ["da", "en"]
        first = announced_items(session, limit=2)
        rest = announced_items(session, limit=2, offset=2)
        assert len(first) == 2 and len(rest) == 1
        assert {r.id for r in first}.isdisjoint(r.id for r in rest)
        changed = next(r for r in first + rest if r.key == "c")
        versions = item_history(session, [changed.id])[changed.id]
    assert [v.title for v in versions] == ["Citizens' assembly", "Citizens' assemblies"]
    assert versions[0].summary == "Climate" and versions[1].summary is None
    # The earlier state is kept with when it was first seen; the current one is the item's.
    assert versions[0].recorded_at < versions[1].recorded_at
    assert versions[0].id is not None and versions[1].id is None
