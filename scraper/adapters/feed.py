"""The `feed` kind: RSS 2.0, RSS 1.0 and Atom, read by feedparser (the project's one feed parser).

    - name: oecd-rss
      kind: feed
      url: https://api.oecd.org/webcms/search/rss?siteName=oecd&...
      category_from: first   # first (default): the first category; none; or "scheme:<s>": the
                             # first category whose scheme (RSS domain, Atom scheme) is <s>
      max_items: 500         # entries read per run, over all pages
      max_pages: 1           # above 1, follows <link rel="next"> (RFC 5005 paged feeds)
      window: true           # the feed shows only its newest entries (see below)

An entry becomes an item: title; link (the entry's link, else its guid when that is a permalink);
summary (description or summary, else the first content) as plain text; date (the raw published,
else updated, string, read by scraper.dates so its precision is kept); category (category_from).
HTML in titles and summaries is rendered to visible text by scraper.extract: feedparser sanitises
it, but it came from the web all the same.

A feed that is not well-formed but still yields entries is accepted with a note on the crawl
(feedparser's "bozo"); one that yields nothing and is not well-formed, or is no feed at all, is an
ExtractError.

Window. Almost every feed lists only its newest entries, so an entry that slid off the end has
not been removed from the site. With `window: true`, an entry of the last run that is missing now
and stood after every entry still shown is carried as present (it is kept in the page memo so it
stays carried), and only entries missing from inside the window are removed. `window: false`
is for a feed that lists everything, such as a search feed asked for more entries than match.
A feed cut short by max_items is treated as a window either way.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from radar.errors import ExtractError
from scraper.adapters.paging import ReadPage, walk_pages
from scraper.adapters.registry import register
from scraper.extract import RawRecord, fragment_text
from scraper.spec import SourceSpec
from scraper.urls import absolute_url

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from scraper.adapters.paging import PageReader
    from scraper.crawl import Crawl, PageMemo
    from scraper.fetch import Fetcher
    from scraper.response import FetchResult

MAX_ITEMS = 5000
# Keys of entries that slid off the end, kept so they stay carried; past this the oldest go.
MAX_CARRIED_TAIL = 1000


class FeedSpec(SourceSpec):
    """A syndication feed: the url is the feed document itself."""

    kind: str = "feed"
    category_from: str | None = "first"
    max_items: int = Field(default=500, ge=1, le=MAX_ITEMS)
    max_pages: int = Field(default=1, ge=1, le=100)
    window: bool = True

    @field_validator("category_from")
    @classmethod
    def _known_rule(cls, value: str | None) -> str | None:
        if value is None or value == "none":
            return None
        if value != "first" and not (value.startswith("scheme:") and len(value) > 7):
            raise ValueError(f"expected first, none or scheme:<scheme>, not {value!r}")
        return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def detail_text(detail: object) -> str | None:
    """Plain text of a feedparser text construct: HTML is rendered, plain text kept as it is."""
    if not isinstance(detail, dict):
        return None
    value = _text(detail.get("value"))
    kind = _text(detail.get("type")) or ""
    return fragment_text(value) if value is not None and "html" in kind else value


# Entries are read with dict.get: FeedParserDict's own lookups map old names and warn.
def _link(entry: dict[str, Any]) -> str | None:
    link = _text(dict.get(entry, "link"))
    if link is None and dict.get(entry, "guidislink"):
        return _text(dict.get(entry, "id"))
    return link


def _summary(entry: dict[str, Any]) -> str | None:
    summary = detail_text(dict.get(entry, "summary_detail"))
    content = dict.get(entry, "content")
    if not summary and isinstance(content, list) and content:
        return detail_text(content[0])
    return summary


def _category(entry: dict[str, Any], rule: str | None) -> str | None:
    tags = dict.get(entry, "tags")
    if rule is None or not isinstance(tags, list):
        return None
    scheme = rule.removeprefix("scheme:") if rule != "first" else None
    for tag in tags:
        if not isinstance(tag, dict) or (scheme is not None and tag.get("scheme") != scheme):
            continue
        # Atom's label is the human-readable name; RSS has only the term.
        term = _text(dict.get(tag, "label")) or _text(dict.get(tag, "term"))
        if term and term.strip():
            return term
    return None


def entry_record(entry: dict[str, Any], *, category_from: str | None) -> RawRecord:
    """One feed entry as raw fields, for scraper.normalise to clean."""
    title = detail_text(dict.get(entry, "title_detail")) or _text(dict.get(entry, "title"))
    date = _text(dict.get(entry, "published")) or _text(dict.get(entry, "updated"))
    return RawRecord(
        {
            "title": title,
            "link": _link(entry),
            "summary": _summary(entry),
            "date": date,
            "category": _category(entry, category_from),
        }
    )


def parse_feed(result: FetchResult, *, source: str) -> tuple[Any, str | None]:
    """feedparser's result, and a note when the feed was not well-formed but had entries."""
    headers = {"content-location": result.final_url}
    if result.content_type:
        headers["content-type"] = result.content_type
    # Imported here: most sources are no feeds, and feedparser adds ~30 ms and ~7 MB to
    # every process that imports the adapters.
    import feedparser

    # A BytesIO, never bytes or str: feedparser may treat a string as a URL or a file name.
    parsed = feedparser.parse(io.BytesIO(result.body), response_headers=headers)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed.get("entries") and (problem is not None or not parsed.get("version")):
        reason = f"not a well-formed feed: {problem}" if problem else "not a feed"
        raise ExtractError(reason, source=source, url=result.url)
    note = f"{result.url}: not well-formed ({problem}); read anyway" if problem else None
    return parsed, note


def _next_href(parsed: Any) -> str | None:
    links = dict.get(parsed.get("feed") or {}, "links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "next":
            return _text(link.get("href"))
    return None


def previous_keys(memos: Mapping[str, PageMemo], start: str) -> list[str]:
    """The item keys of the last run, page by page from `start`, in feed order."""
    keys: list[str] = []
    url: str | None = start
    seen: set[str] = set()
    while url is not None and url not in seen and (memo := memos.get(url)) is not None:
        seen.add(url)
        keys.extend(memo.item_keys)
        url = memo.next_url
    return keys


def keep_fallen_off(crawl: Crawl, previous: Sequence[str]) -> Crawl:
    """Carry the entries of the last run that slid off the end of the feed: not removed.

    The end is where the last entry shown now stood last time (its first place, should a feed
    list one item twice): what stood after it and is gone has slid off, not been deleted.
    """
    if not crawl.complete or not crawl.items or not crawl.memos:
        return crawl  # an empty feed must still look broken; a partial one removes nothing
    shown = [key for memo in crawl.memos for key in memo.item_keys]
    place: dict[str, int] = {}
    for index, key in enumerate(previous):
        place.setdefault(key, index)
    end = next((place[key] for key in reversed(shown) if key in place), -1)
    present = set(shown) | crawl.carried_keys
    fallen = [k for k in dict.fromkeys(previous[end + 1 :]) if k not in present]
    if not fallen:
        return crawl
    fallen = fallen[:MAX_CARRIED_TAIL]
    last = crawl.memos[-1]
    memos = (*crawl.memos[:-1], replace(last, item_keys=(*last.item_keys, *fallen)))
    return replace(crawl, carried_keys=crawl.carried_keys | frozenset(fallen), memos=memos)


@dataclass
class _Progress:
    """What reading the pages of one crawl has found out so far."""

    budget: int  # entries still to read, over all pages
    notes: list[str] = field(default_factory=list)
    cut_short: bool = False


def _reader(spec: FeedSpec, progress: _Progress) -> PageReader:
    def read(result: FetchResult, *, page_number: int) -> ReadPage:
        parsed, note = parse_feed(result, source=spec.name)
        progress.notes.extend([note] if note else [])
        entries = parsed.get("entries") or []
        if len(entries) > progress.budget:
            progress.cut_short = True
            progress.notes.append(f"{result.url}: read {progress.budget} of {len(entries)} entries")
        taken = entries[: progress.budget]
        progress.budget -= len(taken)
        records = [entry_record(e, category_from=spec.category_from) for e in taken]
        follow = spec.max_pages > 1 and progress.budget > 0
        following = absolute_url(result.final_url, _next_href(parsed)) if follow else None
        return ReadPage(records, result.final_url, following)

    return read


@register
class FeedAdapter:
    kind: ClassVar[str] = "feed"
    spec_model: ClassVar[type[SourceSpec]] = FeedSpec

    async def crawl(
        self, spec: SourceSpec, *, fetcher: Fetcher, memos: Mapping[str, PageMemo]
    ) -> Crawl:
        assert isinstance(spec, FeedSpec)
        progress = _Progress(budget=spec.max_items)
        read = _reader(spec, progress)
        crawl = await walk_pages(
            spec, fetcher=fetcher, memos=memos, read=read, max_pages=spec.max_pages
        )
        if spec.window or progress.cut_short:
            crawl = keep_fallen_off(crawl, previous_keys(memos, spec.url))
        return replace(crawl, notes=(*crawl.notes, *progress.notes))
