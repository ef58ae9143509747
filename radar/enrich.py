"""Filling what a listing leaves out from each new item's own page (`enrich:` in config).

For new items only — never every detail page on every run — and only within the source's
allowed domains: the item page is fetched and read by scraper.metadata (configured
selectors, then JSON-LD, citation / Dublin Core meta, OpenGraph, script key/values).
Fields the listing gives are never overwritten. Known items get the values stored when
they were enriched, so a listing that never shows a date does not make every later run
look like a change.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from radar.errors import ExtractError, FetchError
from scraper.dates import parse_date
from scraper.metadata import page_metadata
from scraper.normalise import MAX_FIELD_CHARS, clean_label, clean_text, outbound_links
from scraper.urls import is_allowed

if TYPE_CHECKING:
    from collections.abc import Mapping

    from radar.items import ExtractedItem
    from scraper.crawl import Crawl
    from scraper.fetch import Fetcher
    from scraper.spec import EnrichRule, SourceSpec
    from storage.diff import Known

log = logging.getLogger(__name__)


def _missing(item: ExtractedItem, fields: tuple[str, ...]) -> bool:
    return any(not getattr(item, name) for name in fields)


def fill(
    item: ExtractedItem, raw: Mapping[str, str | None], links: tuple[str, ...], rule: EnrichRule
) -> ExtractedItem:
    """The item with its empty enrichable fields taken from `raw` (raw strings, cleaned here)."""
    changes: dict[str, Any] = {}
    if "summary" in rule.fields and not item.summary:
        changes["summary"] = clean_text(raw.get("summary"), limit=MAX_FIELD_CHARS["summary"])
    if "category" in rule.fields and not item.category:
        changes["category"] = clean_label(raw.get("category"))
    if "date" in rule.fields and item.date is None:
        changes["date"] = parse_date(clean_text(raw.get("date")), language=item.language)
    if "links" in rule.fields and not item.links:
        changes["links"] = links
    return replace(item, **changes) if changes else item


async def _from_page(
    spec: SourceSpec, item: ExtractedItem, rule: EnrichRule, fetcher: Fetcher
) -> ExtractedItem:
    try:
        result = await fetcher.fetch(item.url, source=spec.name, allowed=spec.allowed_domains)
        meta = page_metadata(
            result.text,
            url=result.final_url,
            selectors=rule.detail.selectors(),
            script_fields=rule.script_fields.mapping(),
        )
    except (FetchError, ExtractError) as error:
        # The item is still news; it goes out with what the listing gave.
        log.warning("[%s] could not enrich %s: %s", spec.name, item.url, error)
        return item
    links = outbound_links(meta.links, page_url=result.final_url)
    return fill(item, meta.fields(), links, rule)


async def enrich(
    spec: SourceSpec, crawl: Crawl, *, fetcher: Fetcher, known: Mapping[str, Known]
) -> Crawl:
    """The crawl with new items filled from their pages and known ones from the store."""
    rule = spec.enrich
    if rule is None or not crawl.items:
        return crawl
    budget = rule.max_per_run
    items = list(crawl.items)
    todo: deque[int] = deque()
    for index, item in enumerate(items):
        state = known.get(item.key)
        if state is not None and state.fields is not None:
            items[index] = fill(item, state.fields, (), rule)
        elif budget and _missing(item, rule.fields) and is_allowed(item.url, spec.allowed_domains):
            budget -= 1
            todo.append(index)

    async def worker() -> None:
        while todo:
            index = todo.popleft()
            items[index] = await _from_page(spec, items[index], rule, fetcher)

    # As many pages in flight as the fetcher allows a host; it keeps each host polite.
    async with asyncio.TaskGroup() as group:
        for _ in range(min(len(todo), fetcher.settings.host_concurrency)):
            group.create_task(worker())
    return replace(crawl, items=tuple(items))
