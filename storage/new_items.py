"""A run's new items: their rows in bulk, and their NEW events.

Rows are assessed (relevance, suppression rules) a batch at a time as the database takes
them; the events are then copied by the database from the rows just inserted, so nothing
is read back or sent twice. All inside the caller's transaction. A new item has no
version row: `item_version` keeps only states a later run replaced (storage.record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col

from radar.errors import StorageError
from storage.bulk import insert_batches, table_of
from storage.models import Event, EventKind, Item, UTCDateTime
from storage.repository import digest, item_columns

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterator, Sequence

    from radar.items import ExtractedItem

# New items shaped, assessed and handed to the database at a time. Smaller batches hold
# less at once: the 20,000-item benchmark run peaks ~1.5 MB lower with 500 than with
# 2,000, for 0.1 % more instructions (PostgreSQL still gets one COPY); bench/README.md.
ASSESS_BATCH = 500


@dataclass(frozen=True, slots=True)
class Assessment:
    """What triage made of an item: its relevance, why, and the rule that suppressed it."""

    relevance: float = 0.0
    terms: tuple[str, ...] = ()
    suppressed_by: int | None = None


def unassessed(item: ExtractedItem) -> Assessment:
    """No relevance, no rule: for items no editor will review (a silent baseline's)."""
    return Assessment()


@dataclass(frozen=True, slots=True)
class RunContext:
    """Who is writing: the source, the run, the moment, whether events are announced, and
    how items are assessed (relevance, suppression rules) as they are stored."""

    source_id: int
    run_id: int
    now: dt.datetime
    announce: bool
    assess: Callable[[ExtractedItem], Assessment] = unassessed


def column_defaults(model: type[Item | Event]) -> dict[str, Any]:
    """The model's Python-side defaults: a bulk INSERT bypasses the model's constructor."""
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
        if name != "id" and not field.is_required()
    }


def insert_new(
    session: Session, items: Sequence[ExtractedItem], context: RunContext, *, last_id: int
) -> None:
    """Insert new items with their NEW events; `last_id` is the source's highest stored
    item id."""
    if not items:
        return
    defaults = column_defaults(Item)
    # Unassessed items (a silent baseline's) take the model's defaults for the assessed
    # columns: the same in every row, so converted once, not once per row.
    assessing = context.assess is not unassessed

    def batches() -> Iterator[dict[str, list[Any]]]:
        # Shaped and assessed a batch at a time, as the database takes the rows: a large
        # run never holds every row converted at once (hashes, fingerprints, JSON).
        for start in range(0, len(items), ASSESS_BATCH):
            part = items[start : start + ASSESS_BATCH]
            keys = [item.key for item in part]
            columns = {"key": keys, "key_hash": [digest(key) for key in keys]}
            columns |= item_columns(part)
            if assessing:
                columns |= _assessed(part, context, defaults["review_state"])
            yield columns

    same: dict[str, Any] = {
        "source_id": context.source_id,
        "announced": context.announce,
        "first_seen": context.now,
        "updated_at": context.now,
    }
    assessed = ("relevance", "matched_terms", "suppressed_by_id", "review_state", "reviewed_at")
    per_row = {"key", "key_hash", *item_columns([]), *(assessed if assessing else ())}
    same |= {name: value for name, value in defaults.items() if name not in {*per_row, *same}}
    insert_batches(session.connection(), table_of(Item), batches(), same=same)
    copy_new_events(session, context, last_id=last_id, count=len(items))


def _assessed(
    items: Sequence[ExtractedItem], context: RunContext, review_state: str
) -> dict[str, list[Any]]:
    """The columns triage fills: relevance, why, and the rule that dismissed an item."""
    assessments = [context.assess(item) for item in items]
    rules = [assessment.suppressed_by for assessment in assessments]
    return {
        "relevance": [assessment.relevance for assessment in assessments],
        "matched_terms": [list(assessment.terms) for assessment in assessments],
        "suppressed_by_id": rules,
        "review_state": ["dismissed" if rule else review_state for rule in rules],
        "reviewed_at": [context.now if rule else None for rule in rules],
    }


def copy_new_events(session: Session, context: RunContext, *, last_id: int, count: int) -> None:
    """NEW events of the rows just inserted, copied by the database."""
    # Only this run writes this source's rows (the source lock) and ids only grow, so
    # the source's rows past its last stored id are exactly the new ones.
    new = (
        sa.select(col(Item.id))
        .where(col(Item.source_id) == context.source_id, col(Item.id) > last_id)
        .subquery()
    )
    connection = session.connection()
    found = connection.execute(sa.select(sa.func.count()).select_from(new)).scalar_one()
    if found != count:
        raise StorageError(f"found {found} rows past id {last_id} for {count} new items")
    if not context.announce:
        return
    # Each selected column is labelled with the column it fills: the INSERT's column list is
    # read off the SELECT, so the two cannot fall out of order.
    event = sa.select(
        sa.literal(context.source_id).label("source_id"),
        new.c.id.label("item_id"),
        sa.literal(context.run_id).label("run_id"),
        sa.literal(str(EventKind.NEW)).label("kind"),
        sa.literal(context.now, UTCDateTime()).label("created_at"),
    ).order_by(new.c.id)  # events in listing order, as the items
    connection.execute(_copy_into(Event, event))


def _copy_into(model: type[Event], rows: sa.Select[Any]) -> sa.Insert:
    """INSERT … SELECT `rows` into `model`'s table, column for labelled column."""
    names = [column.name for column in rows.selected_columns]
    return sa.insert(model).from_select(names, rows)
