"""Comparing what a run saw with what we knew: a pure function, no database.

Rules, in the words editors would use:
- an identity we have never seen is **new**;
- a known item whose title, summary, date or category differs is **changed**
  (markup, whitespace and order never reach the fingerprint, so they never count);
- a known item absent from a *complete* crawl is **removed** (an incomplete crawl
  removes nothing: the missing item may sit on a page we did not read);
- a removed item that is seen again has **reappeared**; it is never new twice;
- an identity we have never seen that moved up into a capped listing's head from the pages
  beyond it (after every known item, in walk order) has **entered**: it is stored quietly,
  never announced. It is new to us, not news: an item of the head was deleted or moved;
- a date given more precisely than before ("2026-11" then "2026-11-22", as when a
  listing's month dates give way to an API's days) is no change: the stored date is
  quietly refined. A coarser date than the stored one is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from storage.models import EventKind

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence

    from radar.items import ExtractedItem


class Known(Protocol):
    """What the store knows of one item, enough to compare against (storage's StoredItem)."""

    @property
    def key(self) -> str: ...
    @property
    def fingerprint(self) -> str: ...
    @property
    def removed(self) -> bool: ...
    @property
    def fields(self) -> Mapping[str, str | None] | None:
        """The editorial fields as text; read only when the fingerprints differ."""


@dataclass(frozen=True, slots=True)
class Change:
    """One difference; `item` is what the run saw (None for a removal)."""

    kind: EventKind
    key: str
    item: ExtractedItem | None = None


@dataclass(frozen=True, slots=True)
class Diff:
    """All differences of one run, plus the items seen but unchanged."""

    # New items as they are, in crawl order: a first run has tens of thousands, and a
    # Change around each would only repeat its key.
    new: tuple[ExtractedItem, ...]
    # Every other difference (changed, reappeared, removed), in crawl order.
    updates: tuple[Change, ...]
    unchanged: tuple[ExtractedItem, ...]
    duplicates: int
    refined: tuple[ExtractedItem, ...] = ()
    # New to us, not news (see entered_from_beyond): stored, never announced.
    entered: tuple[ExtractedItem, ...] = ()

    @property
    def changes(self) -> tuple[Change, ...]:
        """Every difference as a Change: the new items, then the updates."""
        new = tuple(Change(kind=EventKind.NEW, key=item.key, item=item) for item in self.new)
        return new + self.updates

    def count(self, kind: EventKind) -> int:
        if kind is EventKind.NEW:
            return len(self.new)
        return sum(1 for change in self.updates if change.kind is kind)


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


REFINED = "refined"  # a verdict of its own: stored quietly, announced never


def _classify(item: ExtractedItem, known: Known | None) -> EventKind | str | None:
    if known is None:
        return EventKind.NEW
    if known.removed:
        return EventKind.REAPPEARED
    if known.fingerprint == item.fingerprint():
        return None
    if known.fields is not None:
        return _same_but_for_date_precision(known.fields, item.editorial())
    return EventKind.CHANGED


def _same_but_for_date_precision(
    before: Mapping[str, str | None], after: Mapping[str, str | None]
) -> EventKind | str | None:
    others = [name for name in after if name != "date"]
    if any(before.get(name) != after[name] for name in others):
        return EventKind.CHANGED
    old, new = before.get("date") or "", after.get("date") or ""
    if old and new and new.startswith(old):
        return REFINED  # "2026-11" became "2026-11-22"
    if old and new and old.startswith(new):
        return None  # coarser than what we know: nothing new
    return EventKind.CHANGED


def entered_from_beyond(order: Sequence[str], known: Collection[str]) -> frozenset[str]:
    """The identities unknown to us that follow every known one in a capped listing's walk.

    A capped run reads the same head of a listing every time. When an item of the head is
    deleted (or moved), an older one moves up into it from the pages never read: new to us,
    yet not news. New items come in at the top, ahead of known ones. With no known item in
    the head there is nothing to tell by (the health guard judges a run that is all new).
    """
    last = next((i for i in range(len(order) - 1, -1, -1) if order[i] in known), None)
    if last is None:
        return frozenset()
    return frozenset(key for key in order[last + 1 :] if key not in known)


def diff(
    known: Mapping[str, Known],
    seen: Iterable[ExtractedItem],
    *,
    carried: frozenset[str] = frozenset(),
    complete: bool,
    active: Collection[str] | None = None,
    entering: Collection[str] = frozenset(),
) -> Diff:
    """Classify every seen item against the known ones; list removals if the crawl was complete.

    `carried` are identities on pages answered 304: present, and unchanged by definition.
    `active` are the identities of every stored item not removed, when `known` holds only
    the seen ones (default: those of `known`). `entering` are identities that entered the
    head of a capped listing from beyond it (entered_from_beyond): if unknown, not news.
    """
    items, duplicates = unique_by_key(seen)
    new: list[ExtractedItem] = []
    updates: list[Change] = []
    unchanged: list[ExtractedItem] = []
    refined: list[ExtractedItem] = []
    entered: list[ExtractedItem] = []
    for item in items:
        # The same identity on a page answered 304 is unchanged by the server's word; a
        # second copy of it on a fetched page (listings repeat items) must not say otherwise.
        state = known.get(item.key)
        vouched = item.key in carried and state is not None and not state.removed
        kind = None if vouched else _classify(item, state)
        if kind is None:
            unchanged.append(item)
        elif kind == REFINED:
            refined.append(item)
        elif kind is EventKind.NEW:
            (entered if item.key in entering else new).append(item)
        else:
            updates.append(Change(kind=EventKind(kind), key=item.key, item=item))
    if complete:
        if active is None:
            active = [key for key, state in known.items() if not state.removed]
        present = {item.key for item in items} | carried
        updates.extend(
            Change(kind=EventKind.REMOVED, key=key) for key in active if key not in present
        )
    return Diff(
        new=tuple(new),
        updates=tuple(updates),
        unchanged=tuple(unchanged),
        duplicates=duplicates,
        refined=tuple(refined),
        entered=tuple(entered),
    )
