"""The stored tables. They hold only what is stored; behaviour lives elsewhere.

Source ─< Run ─< Event >─ Item ─< ItemVersion;  Source ─< PageMemo.
Alembic owns changes to the schema (storage/migrations); a new database is created from these
models and stamped with the newest revision. Tests hold the two to the same schema.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def _server_default(value: str) -> dict[str, Any]:
    """The database-side default a migration gave a column it added to existing rows."""
    return {"server_default": sa.text(f"'{value}'")}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out, on SQLite (which forgets the zone) and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if not isinstance(value, dt.datetime):
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class RunStatus(StrEnum):
    RUNNING = "running"  # started; still running, or the process died (see CRASHED)
    BASELINE = "baseline"  # first successful run: items stored, nothing announced
    OK = "ok"  # complete run, diffed
    UNCHANGED = "unchanged"  # every page answered 304
    PARTIAL = "partial"  # some pages failed: new items announced, nothing removed
    SUSPECT = "suspect"  # looked like a redesign (e.g. no items at all): nothing recorded
    FAILED = "failed"  # nothing usable fetched; no item changed
    CRASHED = "crashed"  # found still RUNNING by a later run: the process died mid-run
    SKIPPED = "skipped"  # never stored: another process was running the source


SUCCESSFUL_RUNS = (RunStatus.BASELINE, RunStatus.OK, RunStatus.UNCHANGED, RunStatus.PARTIAL)


class EventKind(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    REMOVED = "removed"
    REAPPEARED = "reappeared"


def _when(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class Source(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    title: str = Field(max_length=300)
    kind: str = Field(max_length=32)
    url: str = Field(sa_type=sa.Text)
    created_at: dt.datetime = _when(default_factory=utcnow)
    health: str = Field(default="ok", max_length=16, sa_column_kwargs=_server_default("ok"))
    failures: int = Field(
        default=0, description="bad runs in a row", sa_column_kwargs=_server_default("0")
    )
    health_since: dt.datetime | None = _when(default=None, nullable=True)
    # `radar rebaseline`: the next finished run is a silent baseline (the site as it is then
    # becomes the usual; nothing of it is announced), however unusual it looks.
    rebaseline: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class Run(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    started_at: dt.datetime = _when(default_factory=utcnow)
    finished_at: dt.datetime | None = _when(default=None, nullable=True)
    status: str = Field(default=RunStatus.RUNNING, max_length=16, index=True)
    complete: bool = False
    # Read as far as max_pages allows, without a failure; the listing went on (Crawl.capped).
    capped: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    pages_fetched: int = 0
    pages_not_modified: int = 0
    items_found: int = 0
    items_skipped: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0
    reappeared: int = 0
    coverage: dict[str, float] | None = Field(default=None, sa_type=sa.JSON)
    error: str | None = Field(default=None, sa_type=sa.Text)
    # Set when a worker ran it for a dispatched task (radar worker): a redelivered task
    # whose run already finished is recognised and not run again.
    dispatch_id: str | None = Field(default=None, max_length=64, index=True)


class Item(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("source_id", "key_hash", name="uq_item_source_key"),
        # Named, as migration 0004 added them: later migrations find them by name.
        sa.ForeignKeyConstraint(["duplicate_of_id"], ["item.id"], name="fk_item_duplicate_of"),
        sa.ForeignKeyConstraint(
            ["suppressed_by_id"], ["suppression_rule.id"], name="fk_item_suppressed_by"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    key: str = Field(sa_type=sa.Text)
    key_hash: str = Field(max_length=64)
    url: str = Field(sa_type=sa.Text)
    title: str = Field(sa_type=sa.Text)
    summary: str | None = Field(default=None, sa_type=sa.Text)
    category: str | None = Field(default=None, max_length=200)
    date_value: dt.date | None = None
    date_precision: str | None = Field(default=None, max_length=8)
    language: str | None = Field(default=None, max_length=8)
    links: list[str] = Field(
        default_factory=list, sa_type=sa.JSON, sa_column_kwargs=_server_default("[]")
    )
    fingerprint: str = Field(max_length=64)
    announced: bool = Field(default=False, description="False for items of the silent baseline")
    first_seen: dt.datetime = _when(default_factory=utcnow)
    updated_at: dt.datetime = _when(default_factory=utcnow)
    removed_at: dt.datetime | None = _when(default=None, nullable=True)
    # What editors made of it (radar review): new, accepted, dismissed or duplicate.
    review_state: str = Field(
        default="new", max_length=16, index=True, sa_column_kwargs=_server_default("new")
    )
    duplicate_of_id: int | None = None
    reviewed_at: dt.datetime | None = _when(default=None, nullable=True)
    reviewed_by: str | None = Field(default=None, max_length=64, description="editor's username")
    suppressed_by_id: int | None = None
    # How well it matches the relevance profiles, and which terms matched (so editors see why).
    relevance: float = Field(default=0.0, sa_column_kwargs=_server_default("0"))
    matched_terms: list[str] = Field(
        default_factory=list, sa_type=sa.JSON, sa_column_kwargs=_server_default("[]")
    )


class ItemVersion(SQLModel, table=True):
    """An earlier state of an item's editorial fields, kept when a run replaced it.

    The current state lives on the item row only: most items never change, so keeping it
    here as well would double every source's rows (and, on PostgreSQL, the time to store
    a first run). `recorded_at` is when the state was first seen; `run_id` the run that
    replaced it. storage.queries.item_history gives the whole sequence, current included.
    """

    __tablename__ = "item_version"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    run_id: int = Field(foreign_key="run.id", index=True)  # the run that replaced this state
    recorded_at: dt.datetime = _when(default_factory=utcnow)
    title: str = Field(sa_type=sa.Text)
    summary: str | None = Field(default=None, sa_type=sa.Text)
    category: str | None = Field(default=None, max_length=200)
    date: str | None = Field(default=None, max_length=10)
    fingerprint: str = Field(max_length=64)


class Event(SQLModel, table=True):
    """Something an editor may want to know: an item appeared, changed, went or came back."""

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    kind: str = Field(max_length=16, index=True)
    created_at: dt.datetime = _when(default_factory=utcnow)
    details: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class PageMemo(SQLModel, table=True):
    """Validators and contents of a listing page, for conditional GET on the next run."""

    __tablename__ = "page_memo"
    __table_args__ = (sa.UniqueConstraint("source_id", "url_hash", name="uq_page_memo_url"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    url: str = Field(sa_type=sa.Text)
    url_hash: str = Field(max_length=64)
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    item_keys: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    item_stamps: dict[str, str] = Field(
        default_factory=dict, sa_type=sa.JSON, sa_column_kwargs=_server_default("{}")
    )
    next_url: str | None = Field(default=None, sa_type=sa.Text)
    updated_at: dt.datetime = _when(default_factory=utcnow)


class ReviewState(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"
    DUPLICATE = "duplicate"


class SuppressionRule(SQLModel, table=True):
    """Noise editors dismissed once and never want to see again: matched items are dismissed."""

    __tablename__ = "suppression_rule"

    id: int | None = Field(default=None, primary_key=True)
    source_name: str | None = Field(default=None, max_length=64, description="None: all sources")
    field: str = Field(max_length=16, description="title, summary or url")
    pattern: str = Field(max_length=500, description="a regular expression, case-insensitive")
    note: str | None = Field(default=None, max_length=500)
    active: bool = True
    created_at: dt.datetime = _when(default_factory=utcnow)


class DigestDelivery(SQLModel, table=True):
    """The send ledger: which item went to which recipient, so nothing is sent twice."""

    __tablename__ = "digest_delivery"
    __table_args__ = (
        sa.UniqueConstraint("recipient", "item_id", name="uq_digest_delivery_recipient_item"),
    )

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(max_length=320, index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    message_id: str = Field(max_length=300)
    state: str = Field(default="pending", max_length=16, description="pending until sent")
    created_at: dt.datetime = _when(default_factory=utcnow)
    sent_at: dt.datetime | None = _when(default=None, nullable=True)


class Editor(SQLModel, table=True):
    """Someone allowed into the review page (`radar user add`); only a password hash is kept."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    password_hash: str = Field(sa_type=sa.Text)
    active: bool = True
    created_at: dt.datetime = _when(default_factory=utcnow)
    last_login_at: dt.datetime | None = _when(default=None, nullable=True)
