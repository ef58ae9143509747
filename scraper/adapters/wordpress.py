"""The `wordpress` kind: a WordPress site's posts in some categories, through its REST API.

    GET <api>categories?slug=<slug>&_envelope=1                  each configured category
    GET <api>categories?parent=<id>&per_page=100&_envelope=1     its descendants, level by level
    GET <api><post_type>?categories=<ids>&per_page=<n>&page=<N>&_fields=…&_envelope=1

Every request asks for WordPress's `_envelope` form, {"body", "status", "headers"}: a
FetchResult carries no response headers, and the envelope puts X-WP-TotalPages in the body
(where a conditional GET's ETag covers it too). The envelope also turns the API's own
refusals into HTTP 200, so a refusal is read from either place.

The API gives day-precision dates and each post's full content, whose outbound links are the
posts' sources. When the API is refused (401, 403 or 404: security plugins often switch it
off) and a `fallback` listing is configured, the html kind crawls that listing instead. Its
links are the same permalinks as the API's `link`, so the identities are the same and a switch
between the two never makes an item new.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar
from urllib.parse import quote, urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from radar.errors import ExtractError, FetchError, PermanentFetchError, TransientFetchError
from scraper.adapters.html import HtmlAdapter, HtmlSpec
from scraper.adapters.paging import ReadPage, walk_pages
from scraper.adapters.registry import register
from scraper.crawl import Crawl
from scraper.extract import RawRecord, fragment_links, fragment_text
from scraper.spec import SourceSpec, Url
from scraper.urls import absolute_url, is_allowed

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from scraper.adapters.paging import PageReader
    from scraper.crawl import PageMemo
    from scraper.fetch import Fetcher
    from scraper.response import FetchResult

log = logging.getLogger(__name__)

POST_FIELDS = "id,link,date,modified,title,excerpt,content,categories"
REFUSED = frozenset({401, 403, 404})
MAX_CATEGORIES = 100
FALLBACK_KEYS = frozenset({"url", "item", "fields", "next_page", "max_pages"})
# What a fallback listing shares with its source, so that its items are the same items.
INHERITED_KEYS = ("name", "title", "language", "identity", "allowed_domains")
Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9%_-]+$", max_length=200)]


class WordPressSpec(SourceSpec):
    """Posts of the given categories (and, by default, their descendants) of a WordPress site."""

    kind: str = "wordpress"
    api: Url | None = Field(
        default=None, description="REST API base; default <site>/wp-json/wp/v2/"
    )
    post_type: str = Field(default="posts", pattern=r"^[a-z0-9_-]+$", max_length=64)
    categories: tuple[Slug, ...] = Field(min_length=1, max_length=20)
    include_children: bool = True
    per_page: int = Field(default=100, ge=1, le=100)
    max_pages: int = Field(default=20, ge=1, le=500)
    fallback: HtmlSpec | None = Field(default=None, description="html listing if the API is off")

    @model_validator(mode="before")
    @classmethod
    def _fallback_inherits(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("fallback"), dict):
            return data
        unknown = sorted(set(data["fallback"]) - FALLBACK_KEYS)
        if unknown:
            allowed = ", ".join(sorted(FALLBACK_KEYS))
            raise ValueError(f"fallback takes only {allowed}; not {', '.join(unknown)}")
        inherited = {key: data[key] for key in INHERITED_KEYS if key in data}
        return {**data, "fallback": {**inherited, **data["fallback"], "kind": "html"}}

    @model_validator(mode="after")
    def _within_domains(self) -> WordPressSpec:
        if not is_allowed(self.api_root, self.allowed_domains):
            raise ValueError(f"api {self.api_root} is outside allowed_domains")
        if self.fallback is not None:
            if not is_allowed(self.fallback.url, self.allowed_domains):
                raise ValueError(f"fallback.url {self.fallback.url} is outside allowed_domains")
            domains = {"allowed_domains": self.allowed_domains}
            object.__setattr__(self, "fallback", self.fallback.model_copy(update=domains))
        return self

    @property
    def api_root(self) -> str:
        if self.api:
            return self.api if self.api.endswith("/") else self.api + "/"
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}/wp-json/wp/v2/"


def _php_empty_is_a_mapping(value: Any) -> Any:
    # PHP encodes an empty associative array as [], as in a refusal that has no headers.
    return {} if value == [] else value


class _Envelope(BaseModel):
    """A response in WordPress's `_envelope` form: the real status and headers, in the body."""

    body: Any = None
    status: int
    headers: Annotated[dict[str, Any], BeforeValidator(_php_empty_is_a_mapping)] = {}

    def total_pages(self) -> int | None:
        for name, value in self.headers.items():
            if name.lower() == "x-wp-totalpages":
                return int(value) if str(value).strip().isdigit() else None
        return None


class _Term(BaseModel):
    id: int
    name: str = ""


class _Rendered(BaseModel):
    rendered: str = ""


class _Post(BaseModel):
    link: str
    title: _Rendered
    date: str | None = None
    excerpt: _Rendered = _Rendered()
    content: _Rendered = _Rendered()
    categories: list[int] = Field(default_factory=list)


_TERMS = TypeAdapter(list[_Term])
_LIST = TypeAdapter(list[Any])
T = TypeVar("T")


def _open(result: FetchResult, *, source: str) -> _Envelope:
    """The envelope of an API answer; a refusal inside it raises like an HTTP error would."""
    try:
        envelope = _Envelope.model_validate_json(result.text.lstrip("\ufeff"))
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise ExtractError(
            f"not a REST API answer: {problem}", source=source, url=result.url
        ) from exc
    if not 200 <= envelope.status < 300:
        error = TransientFetchError if envelope.status >= 500 else PermanentFetchError
        raise error("the REST API refused", source=source, url=result.url, status=envelope.status)
    return envelope


def _body(envelope: _Envelope, adapter: TypeAdapter[T], *, source: str, url: str) -> T:
    try:
        return adapter.validate_python(envelope.body)
    except ValidationError as exc:
        raise ExtractError("unexpected REST API data", source=source, url=url) from exc


async def _get(spec: WordPressSpec, fetcher: Fetcher, url: str) -> _Envelope:
    result = await fetcher.fetch(url, source=spec.name, allowed=spec.allowed_domains)
    return _open(result, source=spec.name)


@dataclass(frozen=True, slots=True)
class Categories:
    """The configured categories and their descendants: id → display name."""

    configured: Mapping[int, str]
    descendants: Mapping[int, str]

    @property
    def ids(self) -> list[int]:
        # Sorted, so the posts URL (and its page memo) stays the same from run to run.
        return sorted({*self.configured, *self.descendants})

    def name_for(self, post_categories: Sequence[int]) -> str | None:
        """The post's most specific category: a descendant says more than the configured
        category every post shares, and the archive pages show that one too."""
        for table in (self.descendants, self.configured):
            for category in post_categories:
                if category in table:
                    return table[category]
        return None


async def resolve_categories(spec: WordPressSpec, fetcher: Fetcher) -> Categories:
    """Look the configured slugs up, then (include_children) walk their descendants."""
    configured: dict[int, str] = {}
    for slug in spec.categories:
        url = f"{spec.api_root}categories?slug={quote(slug, safe='%')}&_envelope=1"
        terms = _body(await _get(spec, fetcher, url), _TERMS, source=spec.name, url=url)
        if not terms:
            raise ExtractError(f"no category with slug {slug!r}", source=spec.name, url=url)
        configured.update({term.id: fragment_text(term.name).strip() for term in terms})
    found = await _descendants(spec, fetcher, configured) if spec.include_children else {}
    return Categories(configured, found)


async def _descendants(
    spec: WordPressSpec, fetcher: Fetcher, roots: Mapping[int, str]
) -> dict[int, str]:
    found: dict[int, str] = {}
    queue, seen = list(roots), set(roots)
    while queue:
        url = f"{spec.api_root}categories?parent={queue.pop(0)}&per_page=100&_envelope=1"
        envelope = await _get(spec, fetcher, url)
        terms = _body(envelope, _TERMS, source=spec.name, url=url)
        if (envelope.total_pages() or 0) > 1 or len(seen) + len(terms) > MAX_CATEGORIES:
            # Never a silent cut: posts of the categories left out would look removed.
            raise ExtractError("too many child categories", source=spec.name, url=url)
        for term in (term for term in terms if term.id not in seen):
            seen.add(term.id)
            found[term.id] = fragment_text(term.name).strip()
            queue.append(term.id)
    return found


def posts_url(spec: WordPressSpec, category_ids: Sequence[int], page: int) -> str:
    """One page of the posts; the parameter order is fixed, as page memos are keyed by URL."""
    ids = ",".join(str(i) for i in category_ids)
    return (
        f"{spec.api_root}{spec.post_type}?categories={ids}&per_page={spec.per_page}"
        f"&page={page}&_fields={POST_FIELDS}&_envelope=1"
    )


_MORE = r"(?:Læs mere|Læs videre|Read more|Continue reading)"
_ELLIPSIS_TAIL = re.compile(r"\s*\[\s*(?:…|\.\.\.)\s*\]$")


def strip_read_more(text: str, *, title: str) -> str:
    """An excerpt without the tails WordPress and themes add: "[…]" and a "Læs mere" link,
    whose screen-reader text often names the post ("Læs mere om <title>")."""
    text, named = " ".join(text.split()), re.escape(" ".join(title.split()))
    tail = re.compile(rf"\s*{_MORE}(?:\s+(?:om\s+)?[\"“]?{named}[\"”]?)?\s*[»›→]*$", re.I)
    previous = None
    while previous != text:
        previous = text
        text = _ELLIPSIS_TAIL.sub("", tail.sub("", text))
    return text


def outbound_links(html: str, *, page_url: str, own: tuple[str, ...]) -> tuple[str, ...]:
    """The links a post cites: pages on other sites, and documents wherever they are (a PDF
    in the site's own uploads is a source too). Links within the site are navigation."""
    links: list[str] = []
    for href in fragment_links(html):
        url = absolute_url(page_url, href)
        if url and (not is_allowed(url, own) or urlsplit(url).path.lower().endswith(".pdf")):
            links.append(url)
    return tuple(links)


def post_record(raw: Any, *, categories: Categories, own: tuple[str, ...]) -> RawRecord:
    """One post as raw fields; a post of the wrong shape has none and is skipped as such."""
    try:
        post = _Post.model_validate(raw)
    except ValidationError:
        return RawRecord({})
    title = fragment_text(post.title.rendered)
    fields = {
        "title": title,
        "link": post.link,
        "summary": strip_read_more(fragment_text(post.excerpt.rendered), title=title),
        "category": categories.name_for(post.categories),
        "date": post.date,
    }
    links = outbound_links(post.content.rendered, page_url=post.link, own=own)
    return RawRecord(fields, links=links)


def _reader(spec: WordPressSpec, categories: Categories) -> PageReader:
    def read(result: FetchResult, *, page_number: int) -> ReadPage:
        envelope = _open(result, source=spec.name)
        posts = _body(envelope, _LIST, source=spec.name, url=result.url)
        total = envelope.total_pages()
        if total is None:
            raise ExtractError("no X-WP-TotalPages in the answer", source=spec.name, url=result.url)
        records = [post_record(p, categories=categories, own=spec.allowed_domains) for p in posts]
        more = bool(records) and page_number < total
        next_url = posts_url(spec, categories.ids, page_number + 1) if more else None
        return ReadPage(records, result.final_url, next_url)

    return read


@register
class WordPressAdapter:
    kind: ClassVar[str] = "wordpress"
    spec_model: ClassVar[type[SourceSpec]] = WordPressSpec

    async def crawl(
        self, spec: SourceSpec, *, fetcher: Fetcher, memos: Mapping[str, PageMemo]
    ) -> Crawl:
        assert isinstance(spec, WordPressSpec)
        crawl = await _api_crawl(spec, fetcher=fetcher, memos=memos)
        # A refusal arrives before any post: on the category lookup or on the first page.
        refusal = crawl.error if not crawl.items and not crawl.carried_keys else None
        if (
            spec.fallback is None
            or not isinstance(refusal, FetchError)
            or refusal.status not in REFUSED
        ):
            return crawl
        note = f"REST API refused (HTTP {refusal.status}): read the fallback {spec.fallback.url}"
        log.warning("[%s] %s", spec.name, note)
        listing = await HtmlAdapter().crawl(spec.fallback, fetcher=fetcher, memos=memos)
        return replace(listing, notes=(*listing.notes, note))


async def _api_crawl(
    spec: WordPressSpec, *, fetcher: Fetcher, memos: Mapping[str, PageMemo]
) -> Crawl:
    try:
        categories = await resolve_categories(spec, fetcher)
        return await walk_pages(
            spec,
            fetcher=fetcher,
            memos=memos,
            read=_reader(spec, categories),
            max_pages=spec.max_pages,
            first_url=posts_url(spec, categories.ids, 1),
        )
    except FetchError as error:
        # A lookup failed, or a page's envelope held a refusal: nothing can be trusted.
        return Crawl(error=error)
