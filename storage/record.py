"""Writing one run's Diff into items, versions and events, inside the caller's transaction."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from storage.bulk import insert_rows, table_of
from storage.models import Event, EventKind, Item, ItemVersion
from storage.new_items import insert_new, unassessed
from storage.repository import (
    field_changes,
    in_chunks,
    item_fields,
    last_item_id,
    stored_editorial,
    version_state,
)

if TYPE_CHECKING:
    from radar.items import ExtractedItem
    from storage.diff import Change, Diff
    from storage.new_items import Assessment, RunContext
    from storage.repository import StoredItems


class DiffRecorder:
    """Applies changes to the item rows of one source and records their history."""

    def __init__(self, session: Session, stored: StoredItems, context: RunContext) -> None:
        self.session = session
        self.stored = stored
        self.context = context
        # The ORM rows of the items this run writes to, loaded in record().
        self._rows: dict[str, Item] = {}
        # Versions and events are written in bulk at the end, not row by row.
        self._versions: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []

    def record(self, diff: Diff) -> None:
        last_id = max(self.stored.ids.values(), default=0)
        if diff.entered:
            # Stored as a baseline's items are: unannounced, unscored, without an event.
            quiet = replace(self.context, announce=False, assess=unassessed)
            insert_new(self.session, diff.entered, quiet, last_id=last_id)
            last_id = last_item_id(self.session, self.context.source_id)
        insert_new(self.session, diff.new, self.context, last_id=last_id)
        moved = [item for item in diff.unchanged if self._moved(item)]
        written = [c.key for c in diff.updates]
        self._rows = self._load([*written, *(item.key for item in (*moved, *diff.refined))])
        for change in diff.updates:
            self._apply(change)
        self._write_pending()
        for item in moved:
            self._follow_url(item)
        for item in diff.refined:
            self._refine(item)

    def _moved(self, item: ExtractedItem) -> bool:
        stored = self.stored.compared[item.key]
        return stored.url != item.url or stored.links_differ(item.links)

    def _load(self, keys: list[str]) -> dict[str, Item]:
        """The ORM rows of `keys`, by key: only the few items a run writes to."""
        ids = [self.stored.ids[key] for key in keys]
        rows: dict[str, Item] = {}
        for chunk in in_chunks(ids):
            statement = select(Item).where(col(Item.id).in_(chunk))
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

    def _update(self, row: Item, item: ExtractedItem) -> None:
        self._keep_version(row)
        for name, value in item_fields(item).items():
            setattr(row, name, value)
        self._assess(row, item)
        row.updated_at = self.context.now
        self.session.add(row)

    def _assess(self, row: Item, item: ExtractedItem) -> Assessment:
        assessment = self.context.assess(item)
        row.relevance, row.matched_terms = assessment.relevance, list(assessment.terms)
        return assessment

    def _version_same(self) -> dict[str, Any]:
        return {"run_id": self.context.run_id}

    def _event_same(self) -> dict[str, Any]:
        context = self.context
        return {"source_id": context.source_id, "run_id": context.run_id, "created_at": context.now}

    def _keep_version(self, row: Item) -> None:
        """Keep the state this run is about to replace, with the time it was recorded."""
        self._versions.append(version_state(row))

    def _event(self, item_id: int | None, kind: EventKind, details: dict[str, Any] | None) -> None:
        if not self.context.announce:
            return
        assert item_id is not None
        self._events.append({"item_id": item_id, "kind": str(kind), "details": details})

    def _write_pending(self) -> None:
        """Write the run's versions and events, in bulk, after the item rows they refer to."""
        self.session.flush()
        connection = self.session.connection()
        for model, rows, same in (
            (ItemVersion, self._versions, self._version_same()),
            (Event, self._events, self._event_same()),
        ):
            if rows:
                columns = {name: [row[name] for row in rows] for name in rows[0]}
                insert_rows(connection, table_of(model), columns, same=same)
        self._versions, self._events = [], []
