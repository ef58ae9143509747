"""Comparing what a run saw with what we knew: a pure function, no database.

Rules, in the words editors would use:
- an identity we have never seen is **new**;
- a known item whose title, summary, date or category differs is **changed**
  (markup, whitespace and order never reach the fingerprint, so they never count);
- a known item absent from a *complete* crawl is **removed** (an incomplete crawl
  removes nothing: the missing item may sit on a page we did not read);
- a removed item that is seen again has **reappeared**; it is never new twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage.models import EventKind

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from radar.items import ExtractedItem


@dataclass(frozen=True, slots=True)
class KnownItem:
    """What the store knows of one item, enough to compare against."""

    key: str
    fingerprint: str
    removed: bool


@dataclass(frozen=True, slots=True)
class Change:
    """One difference; `item` is what the run saw (None for a removal)."""

    kind: EventKind
    key: str
    item: ExtractedItem | None = None


@dataclass(frozen=True, slots=True)
class Diff:
    """All differences of one run, plus the items seen but unchanged."""

    changes: tuple[Change, ...]
    unchanged: tuple[ExtractedItem, ...]
    duplicates: int

    def count(self, kind: EventKind) -> int:
        return sum(1 for change in self.changes if change.kind is kind)


def unique_by_key(items: Iterable[ExtractedItem]) -> tuple[tuple[ExtractedItem, ...], int]:
    """The items without repeated identities (the first wins), and how many were dropped."""
    seen: dict[str, ExtractedItem] = {}
    duplicates = 0
    for item in items:
        if item.key in seen:
            duplicates += 1
        else:
            seen[item.key] = item
    return tuple(seen.values()), duplicates


def _classify(item: ExtractedItem, known: KnownItem | None) -> EventKind | None:
    if known is None:
        return EventKind.NEW
    if known.removed:
        return EventKind.REAPPEARED
    if known.fingerprint != item.fingerprint():
        return EventKind.CHANGED
    return None


def diff(
    known: Mapping[str, KnownItem],
    seen: Iterable[ExtractedItem],
    *,
    carried: frozenset[str] = frozenset(),
    complete: bool,
) -> Diff:
    """Classify every seen item against the known ones; list removals if the crawl was complete.

    `carried` are identities on pages answered 304: present, and unchanged by definition.
    """
    items, duplicates = unique_by_key(seen)
    changes: list[Change] = []
    unchanged: list[ExtractedItem] = []
    for item in items:
        kind = _classify(item, known.get(item.key))
        if kind is None:
            unchanged.append(item)
        else:
            changes.append(Change(kind=kind, key=item.key, item=item))
    if complete:
        present = {item.key for item in items} | carried
        changes.extend(
            Change(kind=EventKind.REMOVED, key=key)
            for key, state in known.items()
            if not state.removed and key not in present
        )
    return Diff(changes=tuple(changes), unchanged=tuple(unchanged), duplicates=duplicates)
