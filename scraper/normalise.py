"""Cleaning raw selected strings into items: whitespace, control characters, links, dates.

Pure functions only. An item without a title or a link is skipped and counted, never
invented; everything else missing simply stays None.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from radar.items import ExtractedItem
from scraper.dates import parse_date
from scraper.urls import absolute_url, canonical_url

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from scraper.extract import RawRecord

# C0/C1 control characters are never text an editor should see, and XML forbids most.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_SPACE = re.compile(r"\s+")
MAX_FIELD_CHARS = {"title": 500, "summary": 4000, "category": 200}


def clean_text(raw: str | None, *, limit: int | None = None) -> str | None:
    """Collapse whitespace, drop control characters, NFC-normalise; None when nothing is left."""
    if raw is None:
        return None
    # Delete first, then compose: a deleted character may have separated a base letter
    # from its combining mark.
    text = unicodedata.normalize("NFC", _CONTROL.sub("", raw))
    text = _SPACE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


def clean_label(raw: str | None) -> str | None:
    """clean_text for a category: one shared string per distinct label.

    Categories come from a small vocabulary, so a 20,000-item crawl of six categories holds
    six strings instead of 20,000 copies (~1.2 MB).
    """
    text = clean_text(raw, limit=MAX_FIELD_CHARS["category"])
    return sys.intern(text) if text is not None else None


@dataclass(frozen=True, slots=True)
class Normalised:
    """The items of one page, and how many records were skipped for lack of title or link."""

    items: tuple[ExtractedItem, ...]
    skipped: int


def build_item(
    record: RawRecord,
    *,
    page_url: str,
    language: str | None,
    identity: Callable[[str], str] = canonical_url,
) -> ExtractedItem | None:
    """Shape one raw record into an item, or None when it lacks a usable title or link."""
    fields = record.fields
    title = clean_text(fields.get("title"), limit=MAX_FIELD_CHARS["title"])
    url = absolute_url(page_url, fields.get("link"))
    if title is None or url is None:
        return None
    return ExtractedItem(
        key=identity(url),
        url=url,
        title=title,
        summary=clean_text(fields.get("summary"), limit=MAX_FIELD_CHARS["summary"]),
        category=clean_label(fields.get("category")),
        date=parse_date(clean_text(fields.get("date")), language=language),
        language=language,
        links=outbound_links(record.links, page_url=page_url),
    )


MAX_LINKS = 50


def outbound_links(hrefs: Iterable[str], *, page_url: str) -> tuple[str, ...]:
    """Absolute, web-only, de-duplicated outbound links, in page order, capped."""
    found: dict[str, None] = {}
    for href in hrefs:
        url = absolute_url(page_url, href)
        if url is not None:
            found.setdefault(url)
    return tuple(found)[:MAX_LINKS]


def build_items(
    records: Iterable[RawRecord],
    *,
    page_url: str,
    language: str | None,
    identity: Callable[[str], str] = canonical_url,
) -> Normalised:
    """Shape every record of a page; count the ones that had to be skipped."""
    items: list[ExtractedItem] = []
    skipped = 0
    for record in records:
        item = build_item(record, page_url=page_url, language=language, identity=identity)
        if item is None:
            skipped += 1
        else:
            items.append(item)
    return Normalised(items=tuple(items), skipped=skipped)
