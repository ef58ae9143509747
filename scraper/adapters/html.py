"""The `html` kind: items picked out of listing pages by CSS selectors, page after page."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, field_validator

from radar.errors import ExtractError
from scraper import listing_worker
from scraper.adapters.paging import ReadPage, walk_pages
from scraper.adapters.registry import register
from scraper.decode import looks_binary
from scraper.extract import ListingLinks, ListingPage, extract_listing, listing_links
from scraper.identity import identity_parts
from scraper.listing_job import ListingJob, PlainSelector
from scraper.spec import Css, Selector, SelectorText, SourceSpec, StrictModel, check_url
from scraper.urls import absolute_url

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from scraper.crawl import Crawl, PageMemo
    from scraper.fetch import Fetcher
    from scraper.response import FetchResult


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
    page_url: str | None = Field(
        default=None,
        description='pages 2, 3, … by URL pattern, e.g. "https://example.org/news/page/{n}/"',
    )
    max_pages: int = Field(default=10, ge=1, le=500)

    @field_validator("page_url")
    @classmethod
    def _has_page_number(cls, value: str | None) -> str | None:
        if value is not None:
            if value.count("{n}") != 1:
                raise ValueError(f"page_url needs exactly one {{n}} for the page number: {value!r}")
            check_url(value.replace("{n}", "2"))
        return value

    def pattern_page(self, number: int) -> str | None:
        return self.page_url.replace("{n}", str(number)) if self.page_url else None


@register
class HtmlAdapter:
    kind: ClassVar[str] = "html"
    spec_model: ClassVar[type[SourceSpec]] = HtmlSpec

    async def crawl(
        self, spec: SourceSpec, *, fetcher: Fetcher, memos: Mapping[str, PageMemo]
    ) -> Crawl:
        assert isinstance(spec, HtmlSpec)
        worker = listing_worker.current()
        # The source's part of every page's reading, made once for the walk, not per page.
        fields = spec.fields.selectors()
        job_for = job_maker(spec)

        def read(result: FetchResult, *, page_number: int) -> ReadPage:
            if looks_binary(result.body):
                raise ExtractError(
                    f"binary content served as {result.content_type or 'a page'}",
                    source=spec.name,
                    url=result.url,
                )
            html = result.text
            if worker is None:
                page = extract_listing(
                    html, item=spec.item, fields=fields, next_page=spec.next_page
                )
                base, next_url = resolve_links(spec, result, page, page_number)
                return ReadPage(page.records, base, next_url)
            links = listing_links(html, item=spec.item, next_page=spec.next_page)
            base, next_url = resolve_links(spec, result, links, page_number)
            items = worker.submit(job_for(html, base), source=spec.name, url=result.url)
            return ReadPage((), base, next_url, items=items)

        async with worker.walk() if worker else contextlib.nullcontext() as let_go:
            return await walk_pages(
                spec,
                fetcher=fetcher,
                memos=memos,
                read=read,
                max_pages=spec.max_pages,
                # Past the last page a patterned listing answers 404 (as WordPress does).
                end_on_404=spec.page_url is not None,
                handed_over=let_go,
            )


def resolve_links(
    spec: HtmlSpec, result: FetchResult, page: ListingPage | ListingLinks, page_number: int
) -> tuple[str, str | None]:
    """The page's base URL for its item links, and the next page's URL, if any.

    Without a next link, the source's URL pattern gives the next page for as long as pages
    hold items.
    """
    base = absolute_url(result.final_url, page.base_href) or result.final_url
    next_url = absolute_url(base, page.next_href)
    if next_url is None and page.has_items:
        next_url = spec.pattern_page(page_number + 1)
    return base, next_url


def job_maker(spec: HtmlSpec) -> Callable[[str, str], ListingJob]:
    """A function making the extraction worker's job for one of the source's pages, from its
    HTML and base URL; the source's selectors and identity rule are copied once."""
    fields = tuple(
        (name, PlainSelector(selector.css, selector.attr))
        for name, selector in spec.fields.selectors().items()
    )
    identity = identity_parts(spec.identity)

    def job_for(html: str, base_url: str) -> ListingJob:
        return ListingJob(html, base_url, spec.item, fields, spec.language, identity)

    return job_for
