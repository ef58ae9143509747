"""The `html` kind: items picked out of listing pages by CSS selectors, page after page."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from radar.errors import FetchError
from scraper.adapters.registry import register
from scraper.crawl import Crawl, PageMemo
from scraper.extract import extract_listing
from scraper.normalise import build_items
from scraper.spec import Css, Selector, SelectorText, SourceSpec, StrictModel
from scraper.urls import absolute_url, is_allowed

if TYPE_CHECKING:
    from collections.abc import Mapping

    from radar.items import ExtractedItem
    from scraper.fetch import Fetcher, FetchResult


class HtmlFields(StrictModel):
    """Selectors inside one item element. Only title and link are required."""

    title: SelectorText
    link: SelectorText
    summary: SelectorText | None = None
    category: SelectorText | None = None
    date: SelectorText | None = None

    def selectors(self) -> dict[str, Selector]:
        """The configured selectors by field name, leaving out the ones not given."""
        return {name: value for name, value in self if isinstance(value, Selector)}


class HtmlSpec(SourceSpec):
    """A listing page (and its next pages) whose items CSS selectors can pick out."""

    kind: str = "html"
    item: Css = Field(description="CSS selector matching one element per item")
    fields: HtmlFields
    next_page: SelectorText | None = None
    max_pages: int = Field(default=10, ge=1, le=500)


class _PageWalk:
    """The mutable tally of one crawl, turned into a frozen Crawl at the end."""

    def __init__(self) -> None:
        self.items: list[ExtractedItem] = []
        self.carried: set[str] = set()
        self.memos: list[PageMemo] = []
        self.fetched = 0
        self.not_modified = 0
        self.skipped = 0

    def result(self, *, complete: bool, error: FetchError | None = None) -> Crawl:
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


@register
class HtmlAdapter:
    kind: ClassVar[str] = "html"
    spec_model: ClassVar[type[SourceSpec]] = HtmlSpec

    async def crawl(
        self, spec: SourceSpec, *, fetcher: Fetcher, memos: Mapping[str, PageMemo]
    ) -> Crawl:
        assert isinstance(spec, HtmlSpec)
        walk = _PageWalk()
        url: str | None = spec.url
        visited: set[str] = set()
        while url is not None and url not in visited:
            if len(visited) == spec.max_pages:
                # Pages we did not read may still hold items: nothing can be called removed.
                return walk.result(complete=False)
            visited.add(url)
            memo = memos.get(url)
            try:
                result = await fetcher.fetch(
                    url, source=spec.name, validators=memo.validators if memo else None
                )
            except FetchError as error:
                return walk.result(complete=False, error=error)
            url = self._take_page(spec, result, memo, walk)
        return walk.result(complete=True)

    def _take_page(
        self, spec: HtmlSpec, result: FetchResult, memo: PageMemo | None, walk: _PageWalk
    ) -> str | None:
        """Add one page's items to the walk; return the next page's URL, if any."""
        if result.not_modified and memo is not None:
            walk.not_modified += 1
            walk.carried.update(memo.item_keys)
            walk.memos.append(memo)
            return memo.next_url
        walk.fetched += 1
        page = extract_listing(
            result.text,
            item=spec.item,
            fields=spec.fields.selectors(),
            next_page=spec.next_page,
        )
        base = absolute_url(result.final_url, page.base_href) or result.final_url
        normalised = build_items(page.records, page_url=base, language=spec.language)
        walk.items.extend(normalised.items)
        walk.skipped += normalised.skipped
        next_url = absolute_url(base, page.next_href)
        if next_url is not None and not is_allowed(next_url, spec.allowed_domains):
            next_url = None
        walk.memos.append(
            PageMemo(
                url=result.url,
                validators=result.validators,
                item_keys=tuple(item.key for item in normalised.items),
                next_url=next_url,
            )
        )
        return next_url
