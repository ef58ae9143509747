"""Walking a listing page by page: the loop every adapter kind shares.

An adapter only says how to read one page (`PageReader`): which raw records it holds
and which URL comes next. The walk does the rest: conditional requests with the page
memos of the last run, 304 pages carried over unparsed, loop and page-limit guards,
links kept within the source's allowed domains (a next page beyond them ends the walk
unfinished), and a Crawl that is `complete` only when the listing ended by itself.

While the last run's memos name the pages to come, their conditional requests are sent a
few pages ahead of the walk (`_Ahead`), under the same per-host limits: on an unchanged
listing each page is a 304 round trip, and waiting on them one at a time left the walk
idle whenever the machine was busy. A page is still taken in walk order, and a request
the walk never reaches (the listing changed course or ended) is cancelled.

A reader may hand a page's items over still being built (by scraper.listing_worker, on
another core): the walk goes straight on to the next page and collects them, in page order,
when the listing has ended, after awaiting `handed_over` (where the html adapter lets its
extraction child go).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from radar.errors import ExtractError, FetchError, LeavesSource
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

    async def crawl(self, *, complete: bool, error: FetchError | ExtractError | None) -> Crawl:
        """The Crawl, once every read page's items are in. A page whose items could not be
        built ends the crawl there, as if its reader had failed. A walk that ended neither by
        itself nor by a failure stopped at max_pages: it is capped."""
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
            capped=not complete and error is None,
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


# How many pages ahead of the walk conditional requests go out. Above the per-host limit
# they wait for a slot; enough to keep a host's slots busy with requests the walk will use.
AHEAD = 8


class _Ahead:
    """Conditional requests for the pages the memos say come next, sent before their turn."""

    def __init__(
        self, spec: SourceSpec, fetcher: Fetcher, memos: Mapping[str, PageMemo], max_pages: int
    ) -> None:
        self._spec = spec
        self._fetcher = fetcher
        self.memos = memos
        self.max_pages = max_pages
        self._sent: dict[str, asyncio.Task[FetchResult]] = {}

    def fetch(self, url: str, visited: set[str]) -> Awaitable[FetchResult]:
        """The answer for `url`, the walk's page number `len(visited)`: the request sent
        ahead for it, or one sent now. Either way, the next pages' requests go out."""
        sent = self._sent.pop(url, None)
        self._send_after(url, visited)
        if sent is not None:
            return sent
        return fetch_again(self._fetcher, self._spec, url, self.memos.get(url))

    def _send_after(self, url: str, visited: set[str]) -> None:
        page = len(visited)
        memo = self.memos.get(url)
        for _ in range(AHEAD):
            if memo is None or memo.next_url is None or page >= self.max_pages:
                return
            url, page = memo.next_url, page + 1
            memo = self.memos.get(url)
            if url in self._sent:
                continue  # sent at an earlier page, and checked then
            if memo is None or url in visited or not is_allowed(url, self._spec.allowed_domains):
                return
            self._sent[url] = asyncio.ensure_future(
                fetch_again(self._fetcher, self._spec, url, memo)
            )

    async def close(self) -> None:
        """Cancel what the walk did not use; its errors are nobody's."""
        unused = list(self._sent.values())
        self._sent.clear()
        for task in unused:
            task.cancel()
        if unused:
            await asyncio.wait(unused)
        for task in unused:
            if not task.cancelled():
                task.exception()


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
    ahead = _Ahead(spec, fetcher, memos, max_pages)
    try:
        complete, error = await _read_pages(
            spec, ahead, tally, read, first_url or spec.url, end_on_404=end_on_404
        )
    finally:
        await ahead.close()
    crawl = await tally.crawl(complete=complete, error=error)
    if crawl.capped:
        note = f"stopped at max_pages ({max_pages}); the listing goes on, so nothing is removed"
        return replace(crawl, notes=(*crawl.notes, note))
    return crawl


async def _read_pages(
    spec: SourceSpec,
    ahead: _Ahead,
    tally: _Tally,
    read: PageReader,
    url: str | None,
    *,
    end_on_404: bool,
) -> tuple[bool, FetchError | ExtractError | None]:
    """Walk the listing into `tally`; say whether it ended by itself, or what ended it."""
    visited: set[str] = set()
    while url is not None and url not in visited:
        if len(visited) == ahead.max_pages:
            # Pages we did not read may still hold items: nothing can be called removed
            # (the crawl is capped, not failed).
            return False, None
        visited.add(url)
        try:
            result = await ahead.fetch(url, visited)
            url = _take(spec, result, ahead.memos.get(url), tally, read, page_number=len(visited))
        except (FetchError, ExtractError) as error:
            if end_on_404 and len(visited) > 1 and getattr(error, "status", None) == 404:
                return True, None
            return False, error
    return True, None


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
        return _next_within(spec, memo.next_url, page_url=memo.url)
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
    tally.pages.append(_Read(result.url, result.validators, page.next_url, items))
    return _next_within(spec, page.next_url, page_url=result.url)


def _next_within(spec: SourceSpec, url: str | None, *, page_url: str) -> str | None:
    """The next page's URL, if the source may follow it. A link off the allowed domains ends
    the walk as incomplete: the pages beyond it are unread, so nothing may be called removed."""
    if url is None or is_allowed(url, spec.allowed_domains):
        return url
    raise LeavesSource(
        f"the next page's link leaves the source's domains: {url}", source=spec.name, url=page_url
    )
