"""Writing one run's Diff into items, versions and events, inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storage.models import Event, EventKind, Item, ItemVersion
from storage.repository import digest, field_changes, item_fields, stored_editorial

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from radar.items import ExtractedItem
    from storage.diff import Change, Diff
    from storage.repository import StoredItem

# Bound the size of IN (...) lists; SQLite allows 32k parameters, PostgreSQL 65k.
CHUNK = 900
# Rows per bulk INSERT statement (SQLAlchemy splits them further to fit parameter limits).
BULK = 5000


@dataclass(frozen=True, slots=True)
class Assessment:
    """What triage made of an item: its relevance, why, and the rule that suppressed it."""

    relevance: float = 0.0
    terms: tuple[str, ...] = ()
    suppressed_by: int | None = None


def _unassessed(item: ExtractedItem) -> Assessment:
    return Assessment()


@dataclass(frozen=True, slots=True)
class _Inserted:
    """The columns of a row inserted in bulk that its first version copies."""

    id: int
    title: str
    summary: str | None
    category: str | None
    date_value: dt.date | None
    date_precision: str | None
    fingerprint: str


def table_of(model: type[Item | ItemVersion | Event]) -> sa.Table:
    """The model's Core table: a Core executemany skips the ORM's per-row bookkeeping."""
    table = sa.inspect(model).local_table
    assert isinstance(table, sa.Table)
    return table


def _column_defaults(model: type[Item | ItemVersion | Event]) -> dict[str, Any]:
    """The model's Python-side defaults: a bulk INSERT bypasses the model's constructor."""
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
        if name != "id" and not field.is_required()
    }


@dataclass(frozen=True, slots=True)
class RunContext:
    """Who is writing: the source, the run, the moment, whether events are announced, and
    how items are assessed (relevance, suppression rules) as they are stored."""

    source_id: int
    run_id: int
    now: dt.datetime
    announce: bool
    assess: Callable[[ExtractedItem], Assessment] = _unassessed


class DiffRecorder:
    """Applies changes to the item rows of one source and records their history."""

    def __init__(self, session: Session, items: dict[str, StoredItem], context: RunContext) -> None:
        self.session = session
        self.items = items
        self.context = context
        # The ORM rows of the items this run writes to, loaded in record().
        self._rows: dict[str, Item] = {}
        # Versions and events are written in bulk at the end, not row by row.
        self._versions: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []

    def record(self, diff: Diff, *, carried: frozenset[str], complete: bool) -> None:
        new = [c.item for c in diff.changes if c.kind is EventKind.NEW and c.item is not None]
        inserted = dict(zip([item.key for item in new], self._insert_all(new), strict=True))
        moved = [item for item in diff.unchanged if self._moved(item)]
        written = [c.key for c in diff.changes if c.kind is not EventKind.NEW]
        self._rows = self._load([*written, *(item.key for item in (*moved, *diff.refined))])
        for change in diff.changes:
            if change.kind is EventKind.NEW:
                self._version(inserted[change.key])
                self._event(inserted[change.key].id, EventKind.NEW, None)
            else:
                self._apply(change)
        self._write_pending()
        for item in moved:
            self._follow_url(item)
        for item in diff.refined:
            self._refine(item)
        seen = [item.key for item in (*diff.unchanged, *diff.refined)] + sorted(carried)
        self._touch(seen, complete=complete)

    def _moved(self, item: ExtractedItem) -> bool:
        stored = self.items[item.key]
        return stored.url != item.url or stored.links != list(item.links)

    def _load(self, keys: list[str]) -> dict[str, Item]:
        """The ORM rows of `keys`, by key: only the few items a run writes to."""
        ids = [self.items[key].id for key in keys]
        rows: dict[str, Item] = {}
        for start in range(0, len(ids), CHUNK):
            statement = select(Item).where(col(Item.id).in_(ids[start : start + CHUNK]))
            rows.update((row.key, row) for row in self.session.exec(statement))
        return rows

    def _apply(self, change: Change) -> None:
        row = self._rows[change.key]
        self.session.add(row)
        if change.kind is EventKind.REMOVED:
            row.removed_at = self.context.now
            self._event(row.id, EventKind.REMOVED, None)
            return
        assert change.item is not None
        before = stored_editorial(row)
        details = field_changes(before, change.item.editorial())
        row.removed_at = None
        row.last_seen = self.context.now
        if details:
            self._update(row, change.item)
        self._event(row.id, change.kind, {"fields": details} if details else None)

    def _follow_url(self, item: ExtractedItem) -> None:
        """Keep link and outbound links current: they may move without an editorial change
        (an id-based identity keeps its item when the slug is edited)."""
        row = self._rows[item.key]
        row.url, row.links = item.url, list(item.links)
        self.session.add(row)

    def _refine(self, item: ExtractedItem) -> None:
        """Store a more precise date quietly: no event, no new `updated` time."""
        row = self._rows[item.key]
        for name, value in item_fields(item).items():
            setattr(row, name, value)
        self.session.add(row)

    def _insert_all(self, items: list[ExtractedItem]) -> list[_Inserted]:
        """Insert new items with a few executemany INSERTs; return them with their ids."""
        now = self.context.now
        defaults = _column_defaults(Item)
        rows = []
        for item in items:
            assessment = self.context.assess(item)
            suppressed = assessment.suppressed_by is not None
            rows.append(
                defaults
                | item_fields(item)
                | {
                    "source_id": self.context.source_id,
                    "key": item.key,
                    "key_hash": digest(item.key),
                    "announced": self.context.announce,
                    "first_seen": now,
                    "last_seen": now,
                    "updated_at": now,
                    "relevance": assessment.relevance,
                    "matched_terms": list(assessment.terms),
                    "review_state": "dismissed" if suppressed else defaults["review_state"],
                    "suppressed_by_id": assessment.suppressed_by,
                    "reviewed_at": now if suppressed else None,
                }
            )
        # A plain executemany, then the ids by key: INSERT … RETURNING in parameter order
        # fell back to one statement per row on SQLite, ten times slower.
        for start in range(0, len(rows), BULK):
            self.session.execute(sa.insert(table_of(Item)), rows[start : start + BULK])
        ids = self._ids_of([row["key_hash"] for row in rows])
        return [
            _Inserted(
                id=row_id,
                title=row["title"],
                summary=row["summary"],
                category=row["category"],
                date_value=row["date_value"],
                date_precision=row["date_precision"],
                fingerprint=row["fingerprint"],
            )
            for row_id, row in zip((ids[row["key_hash"]] for row in rows), rows, strict=True)
        ]

    def _ids_of(self, hashes: list[str]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for start in range(0, len(hashes), CHUNK):
            statement = sa.select(col(Item.key_hash), col(Item.id)).where(
                col(Item.source_id) == self.context.source_id,
                col(Item.key_hash).in_(hashes[start : start + CHUNK]),
            )
            ids.update((key_hash, item_id) for key_hash, item_id in self.session.execute(statement))
        return ids

    def _update(self, row: Item, item: ExtractedItem) -> None:
        for name, value in item_fields(item).items():
            setattr(row, name, value)
        self._assess(row, item)
        row.updated_at = self.context.now
        self.session.add(row)
        self._version(row)

    def _assess(self, row: Item, item: ExtractedItem) -> Assessment:
        assessment = self.context.assess(item)
        row.relevance, row.matched_terms = assessment.relevance, list(assessment.terms)
        return assessment

    def _version(self, row: Item | _Inserted) -> None:
        assert row.id is not None
        date = stored_editorial(row)["date"]
        self._versions.append(
            {
                "item_id": row.id,
                "run_id": self.context.run_id,
                "recorded_at": self.context.now,
                "title": row.title,
                "summary": row.summary,
                "category": row.category,
                "date": date,
                "fingerprint": row.fingerprint,
            }
        )

    def _event(self, item_id: int | None, kind: EventKind, details: dict[str, Any] | None) -> None:
        if not self.context.announce:
            return
        assert item_id is not None
        self._events.append(
            {
                "source_id": self.context.source_id,
                "item_id": item_id,
                "run_id": self.context.run_id,
                "kind": kind,
                "created_at": self.context.now,
                "details": details,
            }
        )

    def _write_pending(self) -> None:
        """Write the run's versions and events, in bulk, after the item rows they refer to."""
        self.session.flush()
        for model, rows in ((ItemVersion, self._versions), (Event, self._events)):
            defaults = _column_defaults(model)
            for start in range(0, len(rows), BULK):
                chunk = [defaults | row for row in rows[start : start + BULK]]
                self.session.execute(sa.insert(table_of(model)), chunk)
        self._versions, self._events = [], []

    def _touch(self, keys: list[str], *, complete: bool) -> None:
        """Mark unchanged items as seen now, in bulk rather than row by row."""
        # No synchronising of the session's loaded rows: evaluating the WHERE clause against
        # every one of them cost more than the UPDATE itself, and none is read again.
        statement = (
            sa.update(Item)
            .values(last_seen=self.context.now)
            .execution_options(synchronize_session=False)
        )
        if complete:
            self.session.execute(
                statement.where(
                    col(Item.source_id) == self.context.source_id, col(Item.removed_at).is_(None)
                )
            )
            return
        ids = [self.items[key].id for key in keys if key in self.items]
        for start in range(0, len(ids), CHUNK):
            self.session.execute(statement.where(col(Item.id).in_(ids[start : start + CHUNK])))
