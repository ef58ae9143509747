"""The `sitemap` kind: a site's sitemap names its pages, each page describes itself.

For sites without a usable listing page (Nesta): read the sitemap (or sitemap index and its
children, gzipped or not), keep the URLs the `include` pattern matches in full and `exclude`
does not, and read each wanted page's own metadata (scraper.metadata) to make its item.

Every sitemap document is fetched conditionally with the memo of the last run:

- a urlset answered 304 still holds the items it held (its memo's item keys are carried);
- a sitemap index remembers its children in its memo's item_stamps (child URL -> the <lastmod>
  the index gave it; an index holds no item keys itself), so a 304 on the index still leads to
  a conditional GET of every child, and a 304 on all of them means no page is fetched at all;
- a urlset read anew is triaged page by page against the stamps of the last run, so only new
  and changed pages are fetched, at most `max_details` per run (scraper.adapters.sitemap_details).

The crawl is complete only when every sitemap was read whole and every due page was read.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from radar.errors import ExtractError, FetchError, PermanentFetchError
from scraper.adapters.paging import fetch_again
from scraper.adapters.registry import register
from scraper.adapters.sitemap_details import (
    Detail,
    Known,
    UrlSet,
    due_pages,
    listed_pages,
    read_details,
    settle,
)
from scraper.crawl import Crawl, PageMemo
from scraper.identity import identity_function
from scraper.sitemaps import SitemapKind, SitemapSyntaxError, read_sitemap
from scraper.spec import DetailFields, Regex, ScriptFields, SourceSpec
from scraper.urls import absolute_url, is_allowed

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scraper.fetch import Fetcher
    from scraper.response import FetchResult
    from scraper.sitemaps import Sitemap

# More children than this in one index is not a site's sitemap we should walk every day.
MAX_CHILD_SITEMAPS = 200


class SitemapSpec(SourceSpec):
    """A sitemap (or sitemap index) whose matching page URLs are the items."""

    kind: str = "sitemap"
    include: Regex = Field(description="a page URL is wanted only if this matches all of it")
    exclude: Regex | None = Field(default=None, description="drop URLs this matches anywhere")
    detail: DetailFields = DetailFields()
    script_fields: ScriptFields = ScriptFields()
    max_details: int = Field(default=100, ge=1, le=5000, description="page fetches per run")
    max_urls: int = Field(default=50_000, ge=1, le=500_000, description="sitemap entries read")


def children_of(memo: PageMemo) -> tuple[str, ...] | None:
    """The child sitemaps an index memo remembers, or None for a urlset memo."""
    if memo.item_keys or not memo.item_stamps:
        return None
    return tuple(memo.item_stamps)


@dataclass
class _Listing:
    """The mutable tally of reading the sitemap documents of one run."""

    budget: int
    fresh: list[UrlSet] = field(default_factory=list)
    memos: list[PageMemo] = field(default_factory=list)
    carried: set[str] = field(default_factory=set)
    fetched: int = 0
    not_modified: int = 0
    complete: bool = True
    error: FetchError | ExtractError | None = None
    notes: list[str] = field(default_factory=list)

    def short(self, note: str, error: FetchError | ExtractError | None = None) -> None:
        """Something went unread: the crawl cannot be complete."""
        self.complete = False
        self.notes.append(note)
        self.error = self.error or error


async def _read_sitemaps(
    spec: SitemapSpec, *, fetcher: Fetcher, memos: Mapping[str, PageMemo]
) -> _Listing:
    """Read the sitemap at spec.url and, if it is an index, each of its children."""
    listing = _Listing(budget=spec.max_urls)
    children = await _read(spec.url, spec, fetcher, memos, listing, root=True)
    if len(children) > MAX_CHILD_SITEMAPS:
        listing.short(f"index lists {len(children)} sitemaps; read the first {MAX_CHILD_SITEMAPS}")
    for child in children[:MAX_CHILD_SITEMAPS]:
        await _read(child, spec, fetcher, memos, listing, root=False)
    return listing


async def _read(
    url: str,
    spec: SitemapSpec,
    fetcher: Fetcher,
    memos: Mapping[str, PageMemo],
    listing: _Listing,
    *,
    root: bool,
) -> tuple[str, ...]:
    """Read one sitemap document into the listing; return its children if it is an index."""
    memo = memos.get(url)
    try:
        result = await fetch_again(fetcher, spec, url, memo)
        if result.not_modified:
            return _unchanged(result, memo, spec, listing)
        sitemap = read_sitemap(result.body, max_entries=listing.budget)
    except FetchError as error:
        listing.short(f"sitemap {url} unread", error)
        return ()
    except SitemapSyntaxError as exc:
        listing.short(f"sitemap {url} unreadable", _unreadable(spec, url, exc))
        return ()
    listing.fetched += 1
    if sitemap.truncated:
        listing.short(f"sitemap {url} has more than the {listing.budget} entries left to read")
    if sitemap.kind is SitemapKind.INDEX:
        return _index(result, sitemap, spec, listing, root=root)
    listing.budget -= len(sitemap.entries)
    listing.fresh.append(UrlSet(result.url, result.validators, sitemap.entries))
    return ()


def _unchanged(
    result: FetchResult, memo: PageMemo | None, spec: SitemapSpec, listing: _Listing
) -> tuple[str, ...]:
    """A 304: the document holds what its memo says; an index's children are still read."""
    if memo is None:
        raise PermanentFetchError(
            "304 to an unconditional request", source=spec.name, url=result.url
        )
    listing.not_modified += 1
    listing.memos.append(memo)
    children = children_of(memo)
    if children is None:
        listing.carried.update(memo.item_keys)
    return children or ()


def _index(
    result: FetchResult, sitemap: Sitemap, spec: SitemapSpec, listing: _Listing, *, root: bool
) -> tuple[str, ...]:
    """Remember an index's children (the protocol forbids an index inside an index)."""
    if not root:
        listing.short(f"sitemap {result.url} is an index inside an index: not read")
        return ()
    children: dict[str, str] = {}
    for entry in sitemap.entries:
        child = absolute_url(result.url, entry.loc)
        if child is None or not is_allowed(child, spec.allowed_domains):
            listing.short(f"child sitemap {entry.loc!r} is outside the allowed domains")
            continue
        children.setdefault(child, entry.lastmod or "")
    listing.memos.append(
        PageMemo(result.url, result.validators, item_keys=(), next_url=None, item_stamps=children)
    )
    return tuple(children)


def _unreadable(spec: SitemapSpec, url: str, exc: SitemapSyntaxError) -> ExtractError:
    error = ExtractError(f"not a usable sitemap: {exc}", source=spec.name, url=url)
    error.__cause__ = exc
    return error


@register
class SitemapAdapter:
    kind: ClassVar[str] = "sitemap"
    spec_model: ClassVar[type[SourceSpec]] = SitemapSpec

    async def crawl(
        self, spec: SourceSpec, *, fetcher: Fetcher, memos: Mapping[str, PageMemo]
    ) -> Crawl:
        assert isinstance(spec, SitemapSpec)
        listing = await _read_sitemaps(spec, fetcher=fetcher, memos=memos)
        identity = identity_function(spec.identity)
        known = Known.from_memos(memos.values())
        listed = [
            (urlset, listed_pages(urlset, spec=spec, identity=identity)) for urlset in listing.fresh
        ]
        due = due_pages(itertools.chain.from_iterable(pages for _, pages in listed), known)
        details = await read_details(
            due[: spec.max_details], spec=spec, fetcher=fetcher, identity=identity, memos=memos
        )
        read = {detail.page.key: detail.item for detail in details if detail.item is not None}
        confirmed = {detail.page.key for detail in details if detail.not_modified}
        settled = [settle(urlset, pages, known, read, confirmed) for urlset, pages in listed]
        failed = [detail.error for detail in details if detail.error is not None]
        skipped = sum(1 for d in details if d.item is None and d.error is None)
        carried = frozenset(listing.carried).union(*(s.carried for s in settled))
        in_order = dict.fromkeys(page.key for _, pages in listed for page in pages)
        sitemap_memos = [*listing.memos, *(s.memo for s in settled)]
        urls = {memo.url for memo in sitemap_memos}
        present = frozenset(carried.union(read, confirmed))
        return Crawl(
            items=tuple(read[key] for key in in_order if key in read),
            carried_keys=carried.difference(read),
            memos=(*sitemap_memos, *_detail_memos(details, memos, present=present, sitemaps=urls)),
            pages_fetched=listing.fetched,
            pages_not_modified=listing.not_modified,
            skipped=skipped,
            complete=listing.complete and all(s.complete for s in settled),
            error=listing.error or next(iter(failed), None),
            notes=(*listing.notes, *_detail_notes(len(due), len(read), len(failed), skipped)),
        )


def _detail_memos(
    details: list[Detail],
    memos: Mapping[str, PageMemo],
    *,
    present: frozenset[str],
    sitemaps: set[str],
) -> list[PageMemo]:
    """Validators of detail pages for their next conditional GET: fresh ones from this run,
    and the earlier ones of pages still present but not fetched (kept, so not pruned)."""
    fresh = {memo.url: memo for detail in details if (memo := detail.memo()) is not None}
    kept = [
        memo
        for memo in memos.values()
        if memo.url not in sitemaps
        and memo.url not in fresh
        and len(memo.item_keys) == 1
        and memo.item_keys[0] in present
    ]
    return [*kept, *fresh.values()]


def _detail_notes(due: int, read: int, failed: int, skipped: int) -> tuple[str, ...]:
    notes = [f"{read} of {due} new or changed pages read"] if due else []
    if failed:
        notes.append(f"{failed} pages could not be fetched; retried next run")
    if skipped:
        notes.append(f"{skipped} pages had no title; retried next run")
    if due > read + failed + skipped:
        notes.append(f"{due - read - failed - skipped} pages left for the next run (max_details)")
    return tuple(notes)
