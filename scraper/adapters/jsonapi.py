"""The `json` kind: items read out of a JSON API by field paths, page after page.

    - name: oecd
      kind: json
      url: https://api.oecd.org/webcms/search/faceted-search?siteName=oecd  # query kept
      params: {facets: ["oecd-languages:en", "oecd-content-types:publications/reports"],
               searchTerm: deliberative}    # a list repeats the parameter
      items: results                        # path to the list; omit when the body is the list
      fields: {title: title, link: url, summary: description, date: publicationDateTime,
               category: "tags[id^=oecd-content-types:].title"}
      pagination: {param: page, start: 0, size_param: pageSize, size: 20, style: page,
                   total: total}            # style: page | offset; total: path to the count

Paths are steps joined by dots. A step is a key of an object, or a position in a list
(`tags.0.title`); `key[field=text]` and `key[field^=text]` take the first object in the list at
`key` whose `field` equals, or starts with, `text`. A path that does not fit the data (a missing
key, a wrong type, a position past the end) gives nothing: the value is absent, never an error.

Values: a string is used as it is and an integer is written out (an id, a year); anything else
(true/false, null, fractions, objects, lists) counts as absent.

Request URLs are built in one order that never changes, because page memos and fixture files are
keyed by the exact URL: the url's own query as written, then `params` in the order written (a
list repeats its name, in list order), then `size_param=size`, then `param=<page or offset>`.
Names and values are percent-encoded except ":", so facet ids stay readable ("/" becomes %2F).

The walk stops when a page holds fewer than `size` items, when `total` (a path to the count of
all items) says every item has been seen, or at max_pages. The crawl is incomplete (nothing can
be called removed) after max_pages, past MAX_ITEMS_PER_PAGE items on a page, and when a page
comes back short while `total` counts more: the API caps its pages below `size`.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal
from urllib.parse import parse_qsl, quote, urlsplit

from pydantic import BeforeValidator, Field, model_validator

from radar.errors import ExtractError
from scraper.adapters.paging import ReadPage, walk_pages
from scraper.adapters.registry import register
from scraper.extract import RawRecord
from scraper.spec import SourceSpec, StrictModel

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scraper.adapters.paging import PageReader
    from scraper.crawl import Crawl, PageMemo
    from scraper.fetch import Fetcher
    from scraper.response import FetchResult

# More items than this on one page is not a page an API meant to send; the rest go unread.
MAX_ITEMS_PER_PAGE = 1000

_STEP = re.compile(
    r"(?P<key>[^.\[\]]+)(?:\[(?P<field>[^.\[\]=^]+)(?P<op>\^?=)(?P<text>[^\[\]]*)\])?"
)
_POSITION = re.compile(r"[0-9]+")
_COUNT = re.compile(r"[0-9]{1,15}")  # more digits than any real count: not one


class PathStep(StrictModel):
    """One step of a JsonPath: a key or list position, optionally filtering a list."""

    key: str
    field: str | None = None
    op: Literal["=", "^="] = "="
    text: str = ""

    def apply(self, value: object) -> object:
        """The value this step leads to from `value`, or None where the data does not fit."""
        if isinstance(value, dict):
            found = value.get(self.key)
        elif isinstance(value, list) and _POSITION.fullmatch(self.key):
            index = int(self.key)
            found = value[index] if index < len(value) else None
        else:
            return None
        return found if self.field is None else self._first_match(found)

    def _first_match(self, found: object) -> object:
        if not isinstance(found, list):
            return None
        return next((e for e in found if isinstance(e, dict) and self._matches(e)), None)

    def _matches(self, element: dict[str, object]) -> bool:
        value = element.get(self.field or "")
        if not isinstance(value, str):
            return False
        return value == self.text if self.op == "=" else value.startswith(self.text)

    def __str__(self) -> str:
        return self.key + (f"[{self.field}{self.op}{self.text}]" if self.field else "")


class JsonPath(StrictModel):
    """Where a value sits in a JSON document, written `tags[id^=oecd-content-types:].title`."""

    steps: tuple[PathStep, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        steps: list[PathStep] = []
        position = 0
        while True:
            match = _STEP.match(text, position)
            if match is None:
                raise ValueError(f"invalid path {text!r} at character {position + 1}")
            values = {k: v for k, v in match.groupdict().items() if v is not None}
            steps.append(PathStep.model_validate(values))
            position = match.end()
            if position == len(text):
                return cls(steps=tuple(steps))
            if text[position] != ".":
                raise ValueError(f"invalid path {text!r}: expected '.' at character {position + 1}")
            position += 1

    def resolve(self, document: object) -> object:
        value = document
        for step in self.steps:
            value = step.apply(value)
        return value

    def __str__(self) -> str:
        return ".".join(str(step) for step in self.steps)


def _path(value: object) -> object:
    return JsonPath.parse(value) if isinstance(value, str) else value


def _param_text(value: object) -> object:
    # YAML reads `minPublicationYear: 2020` as a number; a query parameter is text either way.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


PathText = Annotated[JsonPath, BeforeValidator(_path)]
ParamValue = Annotated[str, BeforeValidator(_param_text)]


def scalar_text(value: object) -> str | None:
    """A JSON value as field text: strings as they are, integers written out, else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def count_of(value: object) -> int | None:
    """A JSON value as a count of items (an integer or a string of digits), else None."""
    text = scalar_text(value)
    return int(text) if text is not None and _COUNT.fullmatch(text) else None


class JsonFields(StrictModel):
    """Paths inside one item. Only title and link are required."""

    title: PathText
    link: PathText
    summary: PathText | None = None
    category: PathText | None = None
    date: PathText | None = None

    def record(self, item: object) -> RawRecord:
        paths = {name: path for name, path in self if isinstance(path, JsonPath)}
        return RawRecord({name: scalar_text(path.resolve(item)) for name, path in paths.items()})


class Pagination(StrictModel):
    """How the API pages: a page number or an item offset, sent as query parameters."""

    param: str = Field(default="page", min_length=1)
    start: int = Field(default=0, ge=0)
    size_param: str | None = Field(default=None, min_length=1)
    size: int = Field(ge=1, le=MAX_ITEMS_PER_PAGE)
    style: Literal["page", "offset"] = "page"
    total: PathText | None = None

    def pairs(self, page_number: int) -> list[tuple[str, str]]:
        """The query parameters of the walk's `page_number`-th page (1 for the first)."""
        step = 1 if self.style == "page" else self.size
        pairs = [(self.size_param, str(self.size))] if self.size_param else []
        return [*pairs, (self.param, str(self.start + (page_number - 1) * step))]


class JsonSpec(SourceSpec):
    """A JSON API whose items sit in a list, paged by query parameters."""

    kind: str = "json"
    params: dict[str, ParamValue | tuple[ParamValue, ...]] = Field(default_factory=dict)
    items: PathText | None = None
    fields: JsonFields
    pagination: Pagination | None = None
    max_pages: int = Field(default=10, ge=1, le=500)

    @model_validator(mode="after")
    def _pagination_owns_its_params(self) -> JsonSpec:
        if self.pagination is None:
            return self
        given = set(self.params) | {k for k, _ in parse_qsl(urlsplit(self.url).query)}
        clash = given & {self.pagination.param, self.pagination.size_param}
        if clash:
            raise ValueError(f"{', '.join(sorted(clash))}: set by pagination, not url or params")
        return self

    def request_url(self, page_number: int) -> str:
        """The URL of the walk's `page_number`-th page, in the documented parameter order."""
        pairs = [
            (name, value)
            for name, values in self.params.items()
            for value in ((values,) if isinstance(values, str) else values)
        ]
        if self.pagination is not None:
            pairs += self.pagination.pairs(page_number)
        base = self.url.partition("#")[0]
        if not pairs:
            return base
        query = "&".join(f"{quote(k, safe=':')}={quote(v, safe=':')}" for k, v in pairs)
        joiner = "" if base.endswith(("?", "&")) else "&" if "?" in base else "?"
        return base + joiner + query


def load_json(result: FetchResult, *, source: str) -> object:
    """The parsed body; a body that is not JSON is an ExtractError for the source."""
    try:
        return json.loads(result.text)
    except (ValueError, RecursionError) as exc:
        raise ExtractError(f"not valid JSON: {exc}", source=source, url=result.url) from exc


def item_list(document: object, spec: JsonSpec, *, url: str) -> list[object]:
    """The list of items the spec's `items` path points to (the document itself if none)."""
    found = spec.items.resolve(document) if spec.items else document
    if not isinstance(found, list):
        where = str(spec.items) if spec.items else None
        raise ExtractError("no list of items here", source=spec.name, url=url, selector=where)
    return found


def next_page_url(spec: JsonSpec, *, page_number: int, count: int, total: int | None) -> str | None:
    """The next page's URL, or None when this page was the last."""
    paging = spec.pagination
    if paging is None or count < paging.size:
        return None
    if total is not None and page_number * paging.size >= total:
        return None
    return spec.request_url(page_number + 1)


def short_of_total(
    paging: Pagination | None, *, page_number: int, count: int, total: int | None
) -> bool:
    """True when a page came back short while `total` counts items not yet read: the API
    caps its pages below `size`, so the listing did not end where it seems to."""
    if paging is None or total is None or count >= paging.size:
        return False
    return (page_number - 1) * paging.size + count < total


def _reader(spec: JsonSpec, gaps: list[str]) -> PageReader:
    """Reads one page; notes in `gaps` whatever leaves items of the listing unread."""

    def read(result: FetchResult, *, page_number: int) -> ReadPage:
        document = load_json(result, source=spec.name)
        found = item_list(document, spec, url=result.url)
        count, paging = len(found), spec.pagination
        total = count_of(paging.total.resolve(document)) if paging and paging.total else None
        if count > MAX_ITEMS_PER_PAGE:
            gaps.append(f"{result.url}: read {MAX_ITEMS_PER_PAGE} of {count} items")
        if short_of_total(paging, page_number=page_number, count=count, total=total):
            gaps.append(f"{result.url}: {count} items, fewer than size, yet total is {total}")
        records = [spec.fields.record(item) for item in found[:MAX_ITEMS_PER_PAGE]]
        following = next_page_url(spec, page_number=page_number, count=count, total=total)
        return ReadPage(records, result.final_url, following)

    return read


@register
class JsonAdapter:
    kind: ClassVar[str] = "json"
    spec_model: ClassVar[type[SourceSpec]] = JsonSpec

    async def crawl(
        self, spec: SourceSpec, *, fetcher: Fetcher, memos: Mapping[str, PageMemo]
    ) -> Crawl:
        assert isinstance(spec, JsonSpec)
        gaps: list[str] = []
        crawl = await walk_pages(
            spec,
            fetcher=fetcher,
            memos=memos,
            read=_reader(spec, gaps),
            max_pages=spec.max_pages,
            first_url=spec.request_url(1),
        )
        if gaps:
            # Some items went unread, so an item missing from this crawl may still be there.
            # Nor is it capped: those items may be read next time, and must not be news then.
            return replace(crawl, complete=False, capped=False, notes=(*crawl.notes, *gaps))
        return crawl
