"""One source's items as the store holds them: what a run is compared with (stored_items),
the columns an item is stored as, its editorial text and replaced states, and the active
suppression rules. Sessions are passed in; callers own transactions (storage.record writes
a run's Diff inside the run's one transaction; storage.memos and storage.source_state hold
the rest of a source's state)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.models import Item, SuppressionRule

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Collection, Iterable, Iterator, Sequence

    from radar.items import ExtractedItem


# Bound the size of IN (...) lists; SQLite allows 32k parameters, PostgreSQL 65k.
CHUNK = 900


def in_chunks(ids: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    """`ids` in slices short enough for one `IN (...)` list each."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def last_item_id(session: Session, source_id: int) -> int:
    """The highest id among the source's items (0 when it has none)."""
    statement = select(sa.func.max(col(Item.id))).where(col(Item.source_id) == source_id)
    return session.exec(statement).one() or 0


@dataclass(frozen=True, slots=True)
class StoredItem:
    """The columns of a stored item that a run compares with what it saw."""

    id: int
    key: str
    url: str
    # The stored JSON text: comparing text with text spares decoding 100k lists.
    links_json: str
    fingerprint: str
    removed: bool
    title: str
    summary: str | None
    category: str | None
    date_value: dt.date | None
    date_precision: str | None

    @property
    def fields(self) -> dict[str, str | None]:
        return stored_editorial(self)

    def links_differ(self, links: Sequence[str]) -> bool:
        """Whether the stored outbound links are not `links`."""
        if self.links_json == (json.dumps(list(links)) if links else "[]"):
            return False
        return bool(json.loads(self.links_json) != list(links))


EDITORIAL_COLUMNS = ("title", "summary", "category", "date_value", "date_precision")


@dataclass(frozen=True, slots=True)
class StoredItems:
    """A source's stored items as one run needs them."""

    # Every item's id, and the keys of those not removed: what a run needs of the items it
    # did not read (those on pages answered 304, and those gone from the listing).
    ids: dict[str, int]
    active: set[str]
    # The compared columns of the items the run read (of every item, when it read most).
    compared: dict[str, StoredItem]


def stored_items(
    session: Session, source_id: int, *, read: Collection[str], all_columns: bool
) -> StoredItems:
    """The source's stored items, with the compared columns of those whose keys the run
    `read`, or of all of them (`all_columns`: cheaper when the run read most of them)."""
    # Column rows on the session's connection, not ORM objects: building 100k of those cost
    # more than the whole diff, and the ORM's handling of column rows as much again as the
    # rows themselves. A run writes to only a few items; storage.record loads those by id.
    connection = session.connection()
    of_source = col(Item.source_id) == source_id
    if all_columns:
        rows = connection.execute(_compared_columns().where(of_source))
        compared = {row.key: StoredItem(*row) for row in rows}
        ids = {key: item.id for key, item in compared.items()}
        active = {key for key, item in compared.items() if not item.removed}
        return StoredItems(ids, active, compared)
    # An unchanged run of a 20,000-item source: 0.08 s for these three columns, against
    # 0.27 s for all the compared ones.
    states: Iterable[Any] = connection.execute(
        sa.select(col(Item.key), col(Item.id), col(Item.removed_at).is_(None)).where(of_source)
    )
    ids, active = {}, set()
    for key, item_id, present in states:
        ids[key] = item_id
        if present:
            active.add(key)
    wanted = sorted(ids[key] for key in read if key in ids)
    compared = {}
    for chunk in in_chunks(wanted):
        chosen = _compared_columns().where(col(Item.id).in_(chunk))
        compared.update((row.key, StoredItem(*row)) for row in connection.execute(chosen))
    return StoredItems(ids, active, compared)


def _compared_columns() -> sa.Select[Any]:
    return sa.select(
        col(Item.id),
        col(Item.key),
        col(Item.url),
        sa.cast(col(Item.links), sa.Text),
        col(Item.fingerprint),
        col(Item.removed_at).is_not(None),
        *(col(getattr(Item, name)) for name in EDITORIAL_COLUMNS),
    )


def item_columns(items: Sequence[ExtractedItem]) -> dict[str, list[Any]]:
    """The stored columns of `items`, column by column (the form bulk inserts take)."""
    dates = [item.date for item in items]
    return {
        "url": [item.url for item in items],
        "title": [item.title for item in items],
        "summary": [item.summary for item in items],
        "category": [item.category for item in items],
        "date_value": [date.value if date else None for date in dates],
        "date_precision": [str(date.precision) if date else None for date in dates],
        "language": [item.language for item in items],
        "links": [list(item.links) for item in items],
        "fingerprint": [item.fingerprint() for item in items],
    }


def item_fields(item: ExtractedItem) -> dict[str, Any]:
    return {name: values[0] for name, values in item_columns([item]).items()}


class EditorialRow(Protocol):
    """What `stored_editorial` reads: an Item, or a row just inserted in bulk."""

    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str | None: ...
    @property
    def category(self) -> str | None: ...
    @property
    def date_value(self) -> dt.date | None: ...
    @property
    def date_precision(self) -> str | None: ...


def stored_editorial(item: EditorialRow) -> dict[str, str | None]:
    """A stored item's editorial fields in the same text form ExtractedItem.editorial gives."""
    date = _date_text(item.date_value, item.date_precision)
    return {"title": item.title, "summary": item.summary, "date": date, "category": item.category}


def version_state(row: Item) -> dict[str, Any]:
    """An item row's editorial state as item_version's columns, but for the replacing run:
    the item, when the state was recorded, its fields and fingerprint."""
    assert row.id is not None
    return {
        "item_id": row.id,
        "recorded_at": row.updated_at,
        **stored_editorial(row),
        "fingerprint": row.fingerprint,
    }


@cache
def _date_text(value: dt.date | None, precision: str | None) -> str | None:
    # Cached: a source's 100k items share a few thousand dates.
    from radar.items import PartialDate, Precision

    return str(PartialDate(value, Precision(precision))) if value and precision else None


def field_changes(before: dict[str, str | None], after: dict[str, str | None]) -> dict[str, Any]:
    return {name: [before[name], after[name]] for name in after if before.get(name) != after[name]}


def active_rules(session: Session) -> list[SuppressionRule]:
    """Every active suppression rule, oldest first (the first match wins)."""
    statement = select(SuppressionRule).where(col(SuppressionRule.active).is_(True))
    return list(session.exec(statement.order_by(col(SuppressionRule.id))))
