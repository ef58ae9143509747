"""Plain data that flows through a run: dates with their precision, and extracted items.

These are the values every stage agrees on: extraction makes them, the diff compares them,
storage persists them. They are frozen so no stage can change what an earlier one saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt


class Precision(StrEnum):
    """How much of a date the source actually gave. We never invent a day or a month."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date as precise as the source gave it: "04 | 2024" is 2024-04-01 at MONTH precision."""

    value: dt.date
    precision: Precision

    def __str__(self) -> str:
        if self.precision is Precision.YEAR:
            return f"{self.value.year:04d}"
        if self.precision is Precision.MONTH:
            return f"{self.value.year:04d}-{self.value.month:02d}"
        return self.value.isoformat()


# The fields whose change an editor cares about; anything else (order, markup) is noise.
EDITORIAL_FIELDS = ("title", "summary", "date", "category")


@dataclass(frozen=True, slots=True)
class ExtractedItem:
    """One item as a source shows it now, cleaned, with its identity already decided."""

    key: str
    url: str
    title: str
    summary: str | None = None
    category: str | None = None
    date: PartialDate | None = None
    language: str | None = None
    # Outbound links found in the item (a catalogue post's sources, PDFs). Not editorial:
    # they are evidence for cross-referencing, and changing them announces nothing.
    links: tuple[str, ...] = ()

    def editorial(self) -> dict[str, str | None]:
        """The editor-visible fields as text, the form the diff and the history compare."""
        return {
            "title": self.title,
            "summary": self.summary,
            "date": str(self.date) if self.date else None,
            "category": self.category,
        }

    def fingerprint(self) -> str:
        """Digest of the editorial fields: equal fingerprints mean no visible change."""
        # fingerprint(self.editorial()), spelled out: it runs for every item of every run.
        joined = (
            f"title={self.title or ''}\x1fsummary={self.summary or ''}"
            f"\x1fdate={self.date or ''}\x1fcategory={self.category or ''}"
        )
        return _digest(joined)


def fingerprint(fields: dict[str, str | None]) -> str:
    """Digest of editorial fields in a fixed order, so field order never matters."""
    joined = "\x1f".join(f"{name}={fields.get(name) or ''}" for name in EDITORIAL_FIELDS)
    return _digest(joined)


def _digest(text: str) -> str:
    # Imported here, not at the top: hashlib loads OpenSSL (3.5 MB of memory), and the
    # extraction child (scraper.listing_job) builds items without ever fingerprinting one.
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()
