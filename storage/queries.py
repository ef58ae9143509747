"""Read-only questions the feeds and `radar status` ask of the store."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from radar.items import PartialDate, Precision
from storage.models import SUCCESSFUL_RUNS, Event, Item, ItemVersion, Run, Source
from storage.repository import version_state

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence


@dataclass(frozen=True, slots=True)
class AnnouncedItem:
    """An item editors were told about, with its source, ready to become a feed entry."""

    id: int
    source_name: str
    source_title: str
    key: str
    url: str
    title: str
    summary: str | None
    category: str | None
    language: str | None
    date: PartialDate | None
    first_seen: dt.datetime
    updated_at: dt.datetime
    review_state: str = "new"
    relevance: float = 0.0
    terms: tuple[str, ...] = ()
    duplicate_of: int | None = None
    reviewed_by: str | None = None


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """Which announced items a feed or a review list shows, and in which order."""

    source_name: str | None = None
    exclude_sources: tuple[str, ...] = ()
    category: str | None = None
    states: tuple[str, ...] | None = None
    min_relevance: float | None = None
    by_relevance: bool = False  # most relevant first, instead of newest first
    language: str | None = None
    search: str | None = None  # words in the title or summary, case-insensitive


def announced_items(
    session: Session, *, only: ItemFilter | None = None, limit: int = 200, offset: int = 0
) -> list[AnnouncedItem]:
    """Items announced as new (never baseline ones), newest first, still present or not.

    Items first seen in the same run come in the order the run stored them: listing order.
    """
    only = only or ItemFilter()
    statement = _filtered(select(Item, Source), only)
    order: list[Any] = [col(Item.first_seen).desc(), col(Item.id)]
    if only.by_relevance:
        order.insert(0, col(Item.relevance).desc())
    rows = session.exec(statement.order_by(*order).offset(offset).limit(limit))
    return [_announced(item, source) for item, source in rows]


def count_announced(session: Session, *, only: ItemFilter | None = None) -> int:
    """How many items `announced_items` would list without a limit."""
    statement = _filtered(select(sa.func.count(col(Item.id))), only or ItemFilter())
    return int(session.exec(statement).one())


def _filtered(statement: Any, only: ItemFilter) -> Any:
    statement = statement.join(Source, col(Source.id) == col(Item.source_id)).where(
        col(Item.announced).is_(True)
    )
    if only.source_name is not None:
        statement = statement.where(Source.name == only.source_name)
    if only.exclude_sources:
        statement = statement.where(col(Source.name).not_in(only.exclude_sources))
    if only.category is not None:
        statement = statement.where(Item.category == only.category)
    if only.states is not None:
        statement = statement.where(col(Item.review_state).in_(only.states))
    if only.min_relevance is not None:
        statement = statement.where(col(Item.relevance) >= only.min_relevance)
    if only.language is not None:
        statement = statement.where(Item.language == only.language)
    for word in (only.search or "").split():
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", word) + "%"
        statement = statement.where(
            sa.or_(
                col(Item.title).ilike(pattern, escape="\\"),
                col(Item.summary).ilike(pattern, escape="\\"),
            )
        )
    return statement


def announced_categories(session: Session) -> list[str]:
    """The categories announced items have, for one feed each."""
    statement = (
        select(Item.category)
        .where(col(Item.announced).is_(True), col(Item.category).is_not(None))
        .distinct()
    )
    return sorted(category for category in session.exec(statement) if category)


def announced_languages(session: Session) -> list[str]:
    """The languages announced items have."""
    statement = (
        select(Item.language)
        .where(col(Item.announced).is_(True), col(Item.language).is_not(None))
        .distinct()
    )
    return sorted(language for language in session.exec(statement) if language)


def item_history(session: Session, item_ids: Sequence[int]) -> dict[int, list[ItemVersion]]:
    """Each item's states, oldest first, ending with its current one (unsaved, its
    `recorded_at` the item's last change): what an editor compares old → new."""
    history: dict[int, list[ItemVersion]] = {item_id: [] for item_id in item_ids}
    earlier = (
        select(ItemVersion)
        .where(col(ItemVersion.item_id).in_(item_ids))
        .order_by(col(ItemVersion.item_id), col(ItemVersion.id))
    )
    for version in session.exec(earlier):
        history[version.item_id].append(version)
    for item in session.exec(select(Item).where(col(Item.id).in_(item_ids))):
        assert item.id is not None
        history[item.id].append(current_version(item))
    return history


def current_version(item: Item) -> ItemVersion:
    """An item's current editorial state in the form of its kept versions."""
    return ItemVersion(run_id=0, **version_state(item))  # not stored: nothing replaced it


def _announced(item: Item, source: Source) -> AnnouncedItem:
    date = None
    if item.date_value is not None and item.date_precision:
        date = PartialDate(item.date_value, Precision(item.date_precision))
    assert item.id is not None
    return AnnouncedItem(
        id=item.id,
        source_name=source.name,
        source_title=source.title,
        key=item.key,
        url=item.url,
        title=item.title,
        summary=item.summary,
        category=item.category,
        language=item.language,
        date=date,
        first_seen=item.first_seen,
        updated_at=item.updated_at,
        review_state=item.review_state,
        relevance=item.relevance,
        terms=tuple(item.matched_terms or ()),
        duplicate_of=item.duplicate_of_id,
        reviewed_by=item.reviewed_by,
    )


@dataclass(frozen=True, slots=True)
class SourceState:
    """One source as `radar status` shows it: its last run and its item counts."""

    name: str
    title: str
    health: str
    items: int
    removed: int
    last_run: Run | None
    last_success: dt.datetime | None
    rebaseline: bool = False


def source_states(session: Session) -> dict[str, SourceState]:
    """Every known source's state, by name."""
    counts = _item_counts(session)
    states = {}
    for source in session.exec(select(Source).order_by(col(Source.name))):
        assert source.id is not None
        last = session.exec(
            select(Run).where(Run.source_id == source.id).order_by(col(Run.id).desc()).limit(1)
        ).first()
        present, removed = counts.get(source.id, (0, 0))
        states[source.name] = SourceState(
            name=source.name,
            title=source.title,
            health=source.health,
            items=present,
            removed=removed,
            last_run=last,
            last_success=_last_success(session, source.id),
            rebaseline=source.rebaseline,
        )
    return states


def _item_counts(session: Session) -> dict[int, tuple[int, int]]:
    removed = sa.case((col(Item.removed_at).is_not(None), 1), else_=0)
    rows = session.execute(
        sa.select(col(Item.source_id), sa.func.count(), sa.func.sum(removed)).group_by(
            col(Item.source_id)
        )
    )
    return {row[0]: (int(row[1]) - int(row[2] or 0), int(row[2] or 0)) for row in rows}


def _last_success(session: Session, source_id: int) -> dt.datetime | None:
    statement = (
        select(Run.finished_at)
        .where(Run.source_id == source_id, col(Run.status).in_([str(s) for s in SUCCESSFUL_RUNS]))
        .order_by(col(Run.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def source_links(session: Session, source_name: str) -> list[str]:
    """Every link of a source's present items: their own URLs and their outbound links."""
    statement = (
        select(Item.url, Item.links)
        .join(Source, col(Source.id) == col(Item.source_id))
        .where(Source.name == source_name, col(Item.removed_at).is_(None))
    )
    links: list[str] = []
    for url, outbound in session.exec(statement):
        links.append(url)
        links.extend(outbound or [])
    return links


def events_since(session: Session, since: dt.datetime) -> dict[str, int]:
    """Events (new, changed, removed, reappeared) per source name since `since`."""
    rows = session.execute(
        sa.select(col(Source.name), sa.func.count(col(Event.id)))
        .join(Source, col(Source.id) == col(Event.source_id))
        .where(col(Event.created_at) >= since)
        .group_by(col(Source.name))
    )
    return {name: int(count) for name, count in rows}


def recent_errors(session: Session, *, per_source: int = 3) -> dict[str, list[Run]]:
    """The last few runs of each source that reported an error, newest first."""
    statement = (
        select(Run, Source.name)
        .join(Source, col(Source.id) == col(Run.source_id))
        .where(col(Run.error).is_not(None))
        .order_by(col(Run.id).desc())
    )
    found: dict[str, list[Run]] = {}
    for run, name in session.exec(statement.limit(per_source * 50)):
        runs = found.setdefault(name, [])
        if len(runs) < per_source:
            runs.append(run)
    return found
