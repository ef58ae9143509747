"""Writing one run's Diff into items, versions and events, inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col

from storage.models import Event, EventKind, Item, ItemVersion
from storage.repository import digest, field_changes, item_fields, stored_editorial

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from radar.items import ExtractedItem
    from storage.diff import Change, Diff

# Bound the size of IN (...) lists; SQLite allows 32k parameters, PostgreSQL 65k.
CHUNK = 900


@dataclass(frozen=True, slots=True)
class Assessment:
    """What triage made of an item: its relevance, why, and the rule that suppressed it."""

    relevance: float = 0.0
    terms: tuple[str, ...] = ()
    suppressed_by: int | None = None


def _unassessed(item: ExtractedItem) -> Assessment:
    return Assessment()


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

    def __init__(self, session: Session, items: dict[str, Item], context: RunContext) -> None:
        self.session = session
        self.items = items
        self.context = context

    def record(self, diff: Diff, *, carried: frozenset[str], complete: bool) -> None:
        for change in diff.changes:
            self._apply(change)
        for item in diff.unchanged:
            self._follow_url(item)
        for item in diff.refined:
            self._refine(item)
        seen = [item.key for item in (*diff.unchanged, *diff.refined)] + sorted(carried)
        self._touch(seen, complete=complete)

    def _apply(self, change: Change) -> None:
        if change.kind is EventKind.REMOVED:
            row = self.items[change.key]
            row.removed_at = self.context.now
            self._event(row, EventKind.REMOVED, None)
            return
        assert change.item is not None
        if change.kind is EventKind.NEW:
            row = self._insert(change.item)
            self._event(row, EventKind.NEW, None)
            return
        row = self.items[change.key]
        before = stored_editorial(row)
        details = field_changes(before, change.item.editorial())
        row.removed_at = None
        row.last_seen = self.context.now
        if details:
            self._update(row, change.item)
        self._event(row, change.kind, {"fields": details} if details else None)

    def _follow_url(self, item: ExtractedItem) -> None:
        """Keep link and outbound links current: they may move without an editorial change
        (an id-based identity keeps its item when the slug is edited)."""
        row = self.items[item.key]
        links = list(item.links)
        if row.url != item.url or row.links != links:
            row.url, row.links = item.url, links
            self.session.add(row)

    def _refine(self, item: ExtractedItem) -> None:
        """Store a more precise date quietly: no event, no new `updated` time."""
        row = self.items[item.key]
        for name, value in item_fields(item).items():
            setattr(row, name, value)
        self.session.add(row)

    def _insert(self, item: ExtractedItem) -> Item:
        now = self.context.now
        row = Item(
            source_id=self.context.source_id,
            key=item.key,
            key_hash=digest(item.key),
            announced=self.context.announce,
            first_seen=now,
            last_seen=now,
            updated_at=now,
            **item_fields(item),
        )
        assessment = self._assess(row, item)
        if assessment.suppressed_by is not None:
            row.review_state, row.suppressed_by_id = "dismissed", assessment.suppressed_by
            row.reviewed_at = now
        self.session.add(row)
        self.session.flush()
        self.items[item.key] = row
        self._version(row)
        return row

    def _update(self, row: Item, item: ExtractedItem) -> None:
        for name, value in item_fields(item).items():
            setattr(row, name, value)
        self._assess(row, item)
        row.updated_at = self.context.now
        self.session.add(row)
        self.session.flush()
        self._version(row)

    def _assess(self, row: Item, item: ExtractedItem) -> Assessment:
        assessment = self.context.assess(item)
        row.relevance, row.matched_terms = assessment.relevance, list(assessment.terms)
        return assessment

    def _version(self, row: Item) -> None:
        assert row.id is not None
        date = stored_editorial(row)["date"]
        self.session.add(
            ItemVersion(
                item_id=row.id,
                run_id=self.context.run_id,
                recorded_at=self.context.now,
                title=row.title,
                summary=row.summary,
                category=row.category,
                date=date,
                fingerprint=row.fingerprint,
            )
        )

    def _event(self, row: Item, kind: EventKind, details: dict[str, Any] | None) -> None:
        self.session.add(row)
        if not self.context.announce:
            return
        self.session.flush()
        assert row.id is not None
        self.session.add(
            Event(
                source_id=self.context.source_id,
                item_id=row.id,
                run_id=self.context.run_id,
                kind=kind,
                created_at=self.context.now,
                details=details,
            )
        )

    def _touch(self, keys: list[str], *, complete: bool) -> None:
        """Mark unchanged items as seen now, in bulk rather than row by row."""
        statement = sa.update(Item).values(last_seen=self.context.now)
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
