"""The pages a sitemap lists: which to fetch, fetching them, and what to remember of them.

A urlset names each page with its <lastmod>. The memo of that urlset from the last run
remembers, per item key, the <lastmod> the item had when its page was last read
(PageMemo.item_stamps). So, for every wanted URL:

- known, and its <lastmod> is the remembered one: **carried** (present, unchanged, not fetched);
- known, and the sitemap gives no <lastmod>: **carried** too. Without a stamp there is no cheap
  sign of change, and re-reading every such page on every run would cost a request per report
  per run. An edit to such a page is therefore seen only once the sitemap gives it a <lastmod>
  (or a new one). If a site never gives <lastmod>, only new and removed pages are seen;
- otherwise (new, or <lastmod> changed, or a stamp appeared): **due**: its page is fetched,
  new pages first, then the newest <lastmod> first, at most `max_details` per run.

A due page not fetched this run (over the budget, a failed fetch, or a page without a title)
is **unsettled**: a known item is carried with its old stamp, so it is due again next run; an
unknown one is left out. Either way the crawl is incomplete (nothing is removed, and a first
run stays a silent baseline until every page has been read), and the urlset's memo keeps no
validators, so the next run re-reads the sitemap instead of getting a 304 that would carry
the backlog away unseen.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from radar.errors import ExtractError, FetchError
from scraper.adapters.paging import fetch_again
from scraper.crawl import PageMemo
from scraper.decode import looks_binary
from scraper.extract import RawRecord
from scraper.metadata import page_metadata
from scraper.normalise import build_item
from scraper.response import Validators
from scraper.urls import absolute_url, is_allowed

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable, Mapping, Sequence

    from radar.items import ExtractedItem
    from scraper.adapters.sitemap import SitemapSpec
    from scraper.fetch import Fetcher
    from scraper.response import FetchResult
    from scraper.sitemaps import SitemapEntry


@dataclass(frozen=True, slots=True)
class UrlSet:
    """A urlset document read (200) this run, with its validators and entries."""

    url: str
    validators: Validators
    entries: tuple[SitemapEntry, ...]


@dataclass(frozen=True, slots=True)
class Listed:
    """A page URL a urlset lists and the source wants: its identity and <lastmod>."""

    key: str
    url: str
    lastmod: str | None


@dataclass(frozen=True, slots=True)
class Known:
    """What earlier runs settled: the item keys urlsets held, and their stamps."""

    keys: frozenset[str]
    stamps: Mapping[str, str]

    @classmethod
    def from_memos(cls, memos: Iterable[PageMemo]) -> Known:
        # Pooled over every urlset memo, so a page that moved to another child sitemap (as
        # numbered sitemaps grow) is still known.
        keys: set[str] = set()
        stamps: dict[str, str] = {}
        for memo in memos:
            keys.update(memo.item_keys)
            stamps.update({k: v for k, v in memo.item_stamps.items() if k in memo.item_keys})
        return cls(frozenset(keys), stamps)

    def unchanged(self, page: Listed) -> bool:
        if page.key not in self.keys:
            return False
        return page.lastmod is None or self.stamps.get(page.key) == page.lastmod


def listed_pages(
    urlset: UrlSet, *, spec: SitemapSpec, identity: Callable[[str], str]
) -> list[Listed]:
    """The urlset's wanted pages, in order, each identity once.

    Another urlset may list the same page: each memo still holds all of its own pages, so a
    304 on either one alone keeps the page present.
    """
    include = re.compile(spec.include)
    exclude = re.compile(spec.exclude) if spec.exclude else None
    pages: dict[str, Listed] = {}
    for entry in urlset.entries:
        url = absolute_url(urlset.url, entry.loc)
        if url is None or not include.fullmatch(url) or (exclude and exclude.search(url)):
            continue
        if not is_allowed(url, spec.allowed_domains):
            continue  # never fetched, so never an item: a sitemap may list other hosts
        key = identity(url)
        pages.setdefault(key, Listed(key, url, entry.lastmod))
    return list(pages.values())


def due_pages(pages: Iterable[Listed], known: Known) -> list[Listed]:
    """Pages whose detail page must be read, each once, in the order the budget takes them."""
    unique: dict[str, Listed] = {}
    for page in pages:
        unique.setdefault(page.key, page)  # a page in two sitemaps is read once
    due = [page for page in unique.values() if not known.unchanged(page)]
    # Two stable sorts: new before known, and within each the newest <lastmod> first.
    due.sort(key=lambda page: page.lastmod or "", reverse=True)
    due.sort(key=lambda page: page.key in known.keys)
    return due


@dataclass(frozen=True, slots=True)
class Detail:
    """What reading one detail page gave: an item, or the error, or neither (no title)."""

    page: Listed
    item: ExtractedItem | None = None
    error: FetchError | ExtractError | None = None
    # The server said 304 to the validators of the page's last reading: it is unchanged.
    not_modified: bool = False
    validators: Validators | None = None

    def memo(self) -> PageMemo | None:
        """What to remember of the page for a conditional GET next time, if anything."""
        if self.validators is None or not (self.item is not None or self.not_modified):
            return None
        if not (self.validators.etag or self.validators.last_modified):
            return None
        return PageMemo(self.page.url, self.validators, (self.page.key,), None)


async def read_details(
    pages: Sequence[Listed],
    *,
    spec: SitemapSpec,
    fetcher: Fetcher,
    identity: Callable[[str], str],
    memos: Mapping[str, PageMemo] | None = None,
) -> list[Detail]:
    """Fetch and read every page, conditionally where an earlier reading left validators;
    the fetcher keeps the host polite however many there are."""
    memos = memos or {}
    return list(
        await asyncio.gather(
            *(
                _read_detail(
                    page, spec=spec, fetcher=fetcher, identity=identity, memo=memos.get(page.url)
                )
                for page in pages
            )
        )
    )


async def _read_detail(
    page: Listed,
    *,
    spec: SitemapSpec,
    fetcher: Fetcher,
    identity: Callable[[str], str],
    memo: PageMemo | None,
) -> Detail:
    try:
        result = await fetch_again(fetcher, spec, page.url, memo)
    except FetchError as failed:
        return Detail(page, error=failed)
    if result.not_modified:
        return Detail(page, not_modified=True, validators=result.validators)
    if looks_binary(result.body):  # a PDF or an image where a report page should be
        kind = result.content_type or "a page"
        binary = ExtractError(f"binary content served as {kind}", source=spec.name, url=page.url)
        return Detail(page, error=binary)
    try:
        item = _item(result, page, spec=spec, identity=identity)
    except RecursionError:
        # scraper.extract.node_text recurses once per element level: markup nested a few
        # thousand levels deep is a hostile page, unreadable, not a reason to crash the run.
        deep = ExtractError("markup nested too deeply to read", source=spec.name, url=page.url)
        return Detail(page, error=deep)
    return Detail(page, item=item, validators=result.validators)


def _item(
    result: FetchResult, page: Listed, *, spec: SitemapSpec, identity: Callable[[str], str]
) -> ExtractedItem | None:
    """The item a detail page describes, or None when it gives no title."""
    meta = page_metadata(
        result.text,
        url=result.final_url,
        selectors=spec.detail.selectors(),
        script_fields=spec.script_fields.mapping(),
    )
    # The sitemap's URL is the item's link: it is what the identity was computed from, and a
    # redirect (a renamed slug) must not make the same report a different item. <lastmod> is
    # never the item's date: it says when the page was last edited, not when the report was
    # published, and a typo fix would otherwise re-date the report and announce a change.
    fields = {**meta.fields(), "link": page.url}
    record = RawRecord(fields=fields, links=meta.links)
    language = spec.language or meta.language
    return build_item(record, page_url=result.final_url, language=language, identity=identity)


@dataclass(frozen=True, slots=True)
class Settled:
    """One urlset after its details were read: its next memo, the keys carried unread."""

    memo: PageMemo
    carried: frozenset[str]
    complete: bool


def settle(
    urlset: UrlSet,
    pages: Sequence[Listed],
    known: Known,
    read: Container[str],
    confirmed: Container[str] = frozenset(),
) -> Settled:
    """Decide, per listed page, what this run knows of it; make the urlset's next memo.

    `read` holds the keys whose detail page was read into an item this run; `confirmed`
    those whose page answered 304: settled like read ones, but carried.
    """
    carried: list[str] = []
    held: list[str] = []
    stamps: dict[str, str] = {}
    complete = True
    for page in pages:
        stamp = page.lastmod
        if page.key not in read and page.key not in confirmed and not known.unchanged(page):
            complete = False
            if page.key not in known.keys:
                continue  # never read: left out, so it is still new when it is read
            stamp = known.stamps.get(page.key)  # the old stamp, so it is due again next run
        if page.key not in read:
            carried.append(page.key)
        held.append(page.key)
        if stamp is not None:
            stamps[page.key] = stamp
    memo = PageMemo(
        url=urlset.url,
        validators=urlset.validators if complete else Validators(),
        item_keys=tuple(held),
        next_url=None,
        item_stamps=stamps,
    )
    return Settled(memo, frozenset(carried), complete)
