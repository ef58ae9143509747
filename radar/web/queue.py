"""The review queue as the page shows it: filters from the query string, one page of items,
what changed in each, and whether the catalogue has it already. Reads only."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from sqlmodel import Session

from radar.crossref import catalogue_coverage, is_covered
from radar.digest import danish_date
from radar.items import Precision
from storage.models import ReviewState
from storage.queries import (
    AnnouncedItem,
    ItemFilter,
    announced_categories,
    announced_items,
    announced_languages,
    count_announced,
    item_history,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping

    from sqlalchemy.engine import Engine

    from radar.config import RadarConfig
    from storage.models import ItemVersion

PAGE_SIZE = 25
ALL_STATES = "alle"
STATE_LABELS = {
    ReviewState.NEW.value: "Nye",
    ReviewState.ACCEPTED.value: "Godkendt",
    ReviewState.DISMISSED.value: "Afvist",
    ReviewState.DUPLICATE.value: "Dublet",
    ALL_STATES: "Alle",
}
LANGUAGE_NAMES = {"da": "dansk", "sv": "svensk", "no": "norsk", "en": "engelsk", "de": "tysk"}
PRECISION_NOTES = {
    Precision.DAY.value: "dato: dag",
    Precision.MONTH.value: "dato: kun måned",
    Precision.YEAR.value: "dato: kun år",
}
FIELD_LABELS = {"title": "Titel", "summary": "Resumé", "category": "Kategori", "date": "Dato"}


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """The filters and page an editor asked for, as read from the query string."""

    source: str | None = None
    category: str | None = None
    language: str | None = None
    state: str = ReviewState.NEW.value
    search: str = ""
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> QueueQuery:
        state = params.get("state") or ReviewState.NEW.value
        try:
            page = max(1, min(int(params.get("page") or 1), 10_000))
        except ValueError:
            page = 1
        return cls(
            source=params.get("source") or None,
            category=params.get("category") or None,
            language=params.get("language") or None,
            state=state if state in STATE_LABELS else ReviewState.NEW.value,
            search=(params.get("q") or "").strip()[:200],
            page=page,
        )

    def item_filter(self) -> ItemFilter:
        return ItemFilter(
            source_name=self.source,
            category=self.category,
            language=self.language,
            states=None if self.state == ALL_STATES else (self.state,),
            search=self.search or None,
            by_relevance=True,
        )

    def query_string(self, **changes: object) -> str:
        values: dict[str, object] = {
            "source": self.source,
            "category": self.category,
            "language": self.language,
            "state": self.state,
            "q": self.search,
            "page": self.page,
        }
        values.update(changes)
        kept = {k: v for k, v in values.items() if v not in (None, "", 1) or k == "state"}
        return urlencode(kept)


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    label: str
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class QueueItem:
    item: AnnouncedItem
    link: str | None  # only http(s) originals are linked
    when: str
    precision_note: str | None  # None: no date of its own, `when` says when it was found
    language_name: str | None
    in_catalogue: bool
    changes: tuple[FieldChange, ...]
    changed_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class QueuePage:
    query: QueueQuery
    items: list[QueueItem]
    total: int
    pages: int
    sources: list[tuple[str, str]]
    categories: list[str]
    languages: list[tuple[str, str]]


def safe_link(url: str) -> str | None:
    parts = urlsplit(url)
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def changes_between(old: ItemVersion, new: ItemVersion) -> tuple[FieldChange, ...]:
    """Old → new for each editorial field that differs between two versions."""
    return tuple(
        FieldChange(name, label, getattr(old, name), getattr(new, name))
        for name, label in FIELD_LABELS.items()
        if getattr(old, name) != getattr(new, name)
    )


def load_queue(engine: Engine, config: RadarConfig, query: QueueQuery) -> QueuePage:
    only = query.item_filter()
    if query.source is None:  # a page kept to its own feed shows only when asked for by name
        only = dataclasses.replace(only, exclude_sources=config.own_feed_only)
    with Session(engine) as session:
        total = count_announced(session, only=only)
        pages = max(1, -(-total // PAGE_SIZE))
        offset = (min(query.page, pages) - 1) * PAGE_SIZE
        rows = announced_items(session, only=only, limit=PAGE_SIZE, offset=offset)
        versions = item_history(session, [row.id for row in rows])
        covered = catalogue_coverage(session, config)
        categories = announced_categories(session)
        languages = announced_languages(session)
    return QueuePage(
        query=query,
        items=[_queue_item(row, versions[row.id], covered) for row in rows],
        total=total,
        pages=pages,
        sources=[(spec.name, spec.display_title) for spec in config.sources],
        categories=categories,
        languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in languages],
    )


def _queue_item(
    row: AnnouncedItem, versions: list[ItemVersion], covered: dict[str, set[str]]
) -> QueueItem:
    last_two = versions[-2:]
    changes = changes_between(*last_two) if len(last_two) == 2 else ()
    return QueueItem(
        item=row,
        link=safe_link(row.url),
        when=danish_date(row),
        precision_note=PRECISION_NOTES[row.date.precision.value] if row.date else None,
        language_name=LANGUAGE_NAMES.get(row.language, row.language) if row.language else None,
        in_catalogue=is_covered(covered, source=row.source_name, key=row.key),
        changes=changes,
        changed_at=last_two[-1].recorded_at if changes else None,
    )
