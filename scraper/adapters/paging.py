"""Walking a listing page by page: the loop every adapter kind shares.

An adapter only says how to read one page (`PageReader`): which raw records it holds
and which URL comes next. The walk does the rest: conditional requests with the page
memos of the last run, 304 pages carried over unparsed, loop and page-limit guards,
links kept within the source's allowed domains, and a Crawl that is `complete` only when
the listing ended by itself.

A reader may hand a page's items over still being built (by scraper.listing_worker, on
another core): the walk goes straight on to the next page and collects them, in page order,
when the listing has ended, after awaiting `handed_over` (where the html adapter lets its
extraction child go).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from radar.errors import ExtractError, FetchError
from scraper.crawl import Crawl, PageMemo
from scraper.identity import identity_function
from scraper.normalise import Normalised, build_items
from scraper.urls import is_allowed

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence

    from radar.items import ExtractedItem
    from scraper.extract import RawRecord
    from scraper.fetch import Fetcher
    from scraper.response import FetchResult, Validators
    from scraper.spec import SourceSpec


@dataclass(frozen=True, slots=True)
class ReadPage:
    """One page as an adapter read it: raw records, the base URL for their links, the next page."""

    records: Sequence[RawRecord]
    base_url: str
    next_url: str | None
    # The page's items when another process is building them (then `records` is empty).
    items: Awaitable[Normalised] | None = None


class PageReader(Protocol):
    def __call__(self, result: FetchResult, *, page_number: int) -> ReadPage: ...


@dataclass(frozen=True, slots=True)
class _Read:
    """A fetched page whose items may still be on their way."""

    url: str
    validators: Validators
    next_url: str | None
    items: Normalised | Awaitable[Normalised]


class _Tally:
    """The mutable tally of one walk, turned into a frozen Crawl at the end."""

    def __init__(self, handed_over: Callable[[], Awaitable[None]] | None) -> None:
        self.handed_over = handed_over
        self.items: list[ExtractedItem] = []
        self.carried: set[str] = set()
        self.memos: list[PageMemo] = []
        # Every page so far, in walk order: a 304 page's memo, or a page read this time.
        self.pages: list[PageMemo | _Read] = []
        self.fetched = 0
        self.not_modified = 0
        self.skipped = 0

    async def crawl(
        self, *, complete: bool, error: FetchError | ExtractError | None = None
    ) -> Crawl:
        """The Crawl, once every read page's items are in. A page whose items could not be
        built ends the crawl there, as if its reader had failed."""
        if self.handed_over is not None:
            await self.handed_over()
        for page in self.pages:
            if isinstance(page, PageMemo):
                self.carried.update(page.item_keys)
                self.memos.append(page)
                continue
            try:
                items = page.items if isinstance(page.items, Normalised) else await page.items
            except ExtractError as failed:
                complete, error = False, failed
                break
            self._add(page, items)
        self.pages.clear()
        return Crawl(
            items=tuple(self.items),
            carried_keys=frozenset(self.carried),
            memos=tuple(self.memos),
            pages_fetched=self.fetched,
            pages_not_modified=self.not_modified,
            skipped=self.skipped,
            complete=complete,
            error=error,
        )

    def _add(self, page: _Read, normalised: Normalised) -> None:
        self.items.extend(normalised.items)
        self.skipped += normalised.skipped
        self.memos.append(
            PageMemo(
                url=page.url,
                validators=page.validators,
                item_keys=tuple(item.key for item in normalised.items),
                next_url=page.next_url,
            )
        )


async def fetch_again(
    fetcher: Fetcher, spec: SourceSpec, url: str, memo: PageMemo | None
) -> FetchResult:
    """GET a page of the source, conditionally when an earlier reading left its validators,
    and never beyond the source's allowed domains."""
    return await fetcher.fetch(
        url,
        source=spec.name,
        validators=memo.validators if memo else None,
        allowed=spec.allowed_domains,
    )


async def walk_pages(
    spec: SourceSpec,
    *,
    fetcher: Fetcher,
    memos: Mapping[str, PageMemo],
    read: PageReader,
    max_pages: int,
    first_url: str | None = None,
    end_on_404: bool = False,
    handed_over: Callable[[], Awaitable[None]] | None = None,
) -> Crawl:
    """Fetch and read pages from `first_url` (default: the source's url) until none is next.

    With `end_on_404`, a page after the first that answers 404 ends the listing normally.
    `handed_over` is awaited once the last page is read, before the items are collected.
    """
    tally = _Tally(handed_over)
    url: str | None = first_url or spec.url
    visited: set[str] = set()
    while url is not None and url not in visited:
        if len(visited) == max_pages:
            # Pages we did not read may still hold items: nothing can be called removed.
            return await tally.crawl(complete=False)
        visited.add(url)
        memo = memos.get(url)
        try:
            result = await fetch_again(fetcher, spec, url, memo)
            url = _take(spec, result, memo, tally, read, page_number=len(visited))
        except (FetchError, ExtractError) as error:
            if end_on_404 and len(visited) > 1 and getattr(error, "status", None) == 404:
                return await tally.crawl(complete=True)
            return await tally.crawl(complete=False, error=error)
    return await tally.crawl(complete=True)


def _take(
    spec: SourceSpec,
    result: FetchResult,
    memo: PageMemo | None,
    tally: _Tally,
    read: PageReader,
    *,
    page_number: int,
) -> str | None:
    """Add one page's items to the tally; return the next page's URL, if any."""
    if result.not_modified and memo is not None:
        tally.not_modified += 1
        tally.pages.append(memo)
        return memo.next_url
    tally.fetched += 1
    page = read(result, page_number=page_number)
    items: Normalised | Awaitable[Normalised] | None = page.items
    if items is None:
        items = build_items(
            page.records,
            page_url=page.base_url,
            language=spec.language,
            identity=identity_function(spec.identity),
        )
    next_url = page.next_url
    if next_url is not None and not is_allowed(next_url, spec.allowed_domains):
        next_url = None
    tally.pages.append(_Read(result.url, result.validators, next_url, items))
    return next_url
