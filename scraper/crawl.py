"""What one crawl of one source produced: the plain value adapters hand to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from radar.errors import ExtractError, FetchError
    from radar.items import ExtractedItem
    from scraper.response import Validators


@dataclass(frozen=True, slots=True)
class PageMemo:
    """What we remember of a listing page between runs, so a 304 needs no re-parse.

    When the server says "not modified", the page still holds the items it held last time
    and still links to the same next page.
    """

    url: str
    validators: Validators
    item_keys: tuple[str, ...]
    next_url: str | None
    # Per-item change stamps a listing gives (a sitemap's <lastmod>), so an adapter can tell
    # an unchanged item without fetching its page again.
    item_stamps: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Crawl:
    """Everything one crawl saw.

    `items` come from pages that were fetched and parsed; `carried_keys` are the identities
    on pages the server answered 304 to. `complete` is True only when every page of the
    listing was read (fetched or 304) and pagination ended by itself: only then may an
    absent item be called removed. `capped` is True when the walk read, without a failure,
    as many pages as the source allows (`max_pages`) and the listing goes on: the same head
    of the listing every run, so new items are told apart from known ones, but nothing is
    called removed. `error` is the failure that cut the crawl short, if any.
    """

    items: tuple[ExtractedItem, ...] = ()
    carried_keys: frozenset[str] = frozenset()
    memos: tuple[PageMemo, ...] = ()
    pages_fetched: int = 0
    pages_not_modified: int = 0
    skipped: int = 0
    complete: bool = False
    capped: bool = False
    error: FetchError | ExtractError | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def pages(self) -> int:
        return self.pages_fetched + self.pages_not_modified

    @property
    def finished(self) -> bool:
        """It read all it set out to read: the whole listing, or as much as max_pages allows.
        Only such a crawl can end a silent baseline or be compared with the usual."""
        return self.complete or self.capped

    @property
    def all_not_modified(self) -> bool:
        return self.finished and self.pages_fetched == 0 and self.pages_not_modified > 0
