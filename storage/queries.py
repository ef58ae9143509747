"""Read-only questions the feeds and `radar status` ask of the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from radar.items import PartialDate, Precision
from storage.models import SUCCESSFUL_RUNS, Item, Run, Source

if TYPE_CHECKING:
    import datetime as dt


@dataclass(frozen=True, slots=True)
class AnnouncedItem:
    """An item editors were told about, with its source, ready to become a feed entry."""

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


def announced_items(
    session: Session, *, source_name: str | None = None, limit: int = 200
) -> list[AnnouncedItem]:
    """Items announced as new (never baseline ones), newest first, still present or not.

    Items first seen in the same run come in the order the run stored them: listing order.
    """
    statement = (
        select(Item, Source)
        .join(Source, col(Source.id) == col(Item.source_id))
        .where(col(Item.announced).is_(True))
        .order_by(col(Item.first_seen).desc(), col(Item.id))
        .limit(limit)
    )
    if source_name is not None:
        statement = statement.where(Source.name == source_name)
    return [_announced(item, source) for item, source in session.exec(statement)]


def _announced(item: Item, source: Source) -> AnnouncedItem:
    date = None
    if item.date_value is not None and item.date_precision:
        date = PartialDate(item.date_value, Precision(item.date_precision))
    return AnnouncedItem(
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
