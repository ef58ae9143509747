"""Selecting things out of HTML. Every selectolax call in the project lives in this module.

Selectors only select: the raw strings they return are cleaned and shaped in
scraper.normalise, so a parser change touches this file alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

if TYPE_CHECKING:
    from collections.abc import Mapping

# Text inside these never reaches a reader.
INVISIBLE_TAGS = frozenset({"script", "style", "template", "noscript", "head", "svg", "iframe"})
# A browser breaks lines around these, so their text must not run together.
BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    }
)


def validate_selector(css: str) -> None:
    """Raise ValueError when selectolax cannot parse `css`; config validation calls this."""
    try:
        LexborHTMLParser("<p></p>").css(css)
    except SelectolaxError as exc:
        raise ValueError(f"invalid CSS selector {css!r}") from exc


class Pick(Protocol):
    """A selector as extraction reads it: scraper.spec.Selector, or a listing job's copy."""

    @property
    def css(self) -> str: ...

    @property
    def attr(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One item's fields exactly as selected: strings still to be cleaned, or None."""

    fields: Mapping[str, str | None]
    links: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ListingPage:
    """What one listing page holds: raw records, and the raw next-page link if any."""

    records: tuple[RawRecord, ...]
    next_href: str | None
    base_href: str | None

    @property
    def has_items(self) -> bool:
        return bool(self.records)


@dataclass(frozen=True, slots=True)
class ListingLinks:
    """Where a listing page leads, read without its records: the raw next-page link, the raw
    <base href>, and whether any item element is there at all."""

    next_href: str | None
    base_href: str | None
    has_items: bool


def node_text(node: LexborNode) -> str:
    """Visible text of a node, with a space where a browser would break the line.

    Walks the tree with an explicit stack, not recursion: hostile pages nest thousands of
    elements deep.
    """
    child = node.child
    if child is None:
        return ""
    if child.next is None and child.is_text_node:
        # The usual field, a link or a label holding only its text: nothing to walk.
        return child.text_content or ""
    parts: list[str] = []
    # Each entry is a node to visit, or a string to emit once its subtree is done.
    stack: list[LexborNode | str] = list(reversed(list(node.iter(include_text=True))))
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            parts.append(current)
        elif current.is_text_node:
            parts.append(current.text_content or "")
        elif current.tag not in INVISIBLE_TAGS:
            block = current.tag in BLOCK_TAGS
            if block:
                parts.append(" ")
                stack.append(" ")
            stack.extend(reversed(list(current.iter(include_text=True))))
    return "".join(parts)


def _select(scope: LexborNode, selector: Pick) -> str | None:
    node = scope.css_first(selector.css)
    if node is None:
        return None
    if selector.attr:
        return node.attributes.get(selector.attr)
    return node_text(node)


def extract_listing(
    html: str, *, item: str, fields: Mapping[str, Pick], next_page: Pick | None
) -> ListingPage:
    """Select every item element and, inside each, every configured field."""
    tree = LexborHTMLParser(html)
    records = tuple(
        RawRecord({name: _select(node, selector) for name, selector in fields.items()})
        for node in tree.css(item)
    )
    next_href, base_href = _links(tree, next_page)
    return ListingPage(records=records, next_href=next_href, base_href=base_href)


def listing_links(html: str, *, item: str, next_page: Pick | None) -> ListingLinks:
    """extract_listing without the records: what a walk needs to go on to the next page
    while another process extracts this one's items."""
    tree = LexborHTMLParser(html)
    next_href, base_href = _links(tree, next_page)
    return ListingLinks(next_href, base_href, has_items=tree.css_first(item) is not None)


def _links(tree: LexborHTMLParser, next_page: Pick | None) -> tuple[str | None, str | None]:
    """The raw next-page link and the raw <base href> of a parsed page."""
    root = tree.root
    next_href = _select(root, next_page) if next_page and root is not None else None
    base = tree.css_first("base[href]")
    return next_href, base.attributes.get("href") if base is not None else None


def fragment_text(html: str) -> str:
    """Visible text of an HTML fragment, such as a JSON API's "rendered" field.

    Entities are decoded and tags dropped, with a space where a browser breaks the line.
    """
    body = LexborHTMLParser(html).body
    return node_text(body) if body is not None else ""


def fragment_links(html: str) -> tuple[str, ...]:
    """The raw href of every link in an HTML fragment, in document order."""
    tree = LexborHTMLParser(html)
    return tuple(href for node in tree.css("a[href]") if (href := node.attributes.get("href")))


# Caps on what one detail page may hand to scraper.metadata: the page itself is already capped
# by the fetcher, these bound the work and memory spent on any one part of it.
MAX_META_TAGS = 500
MAX_META_CHARS = 10_000
MAX_JSON_LD_BLOCKS = 20
MAX_JSON_LD_CHARS = 1_000_000
MAX_SCRIPTS = 100
MAX_SCRIPT_CHARS = 200_000
MAX_LINK_NODES = 2_000
# Script types that hold data or templates, not code a page runs.
_DATA_SCRIPT_TYPES = frozenset({"application/ld+json", "application/json", "text/template"})


@dataclass(frozen=True, slots=True)
class DocumentParts:
    """The raw pieces of one HTML page that describe it, still untrusted and uncleaned.

    `meta` maps each <meta> name or property, lower-cased, to its first content; `selected` holds
    the first match of each configured selector; `links` every value of the link selector.
    """

    title: str | None
    language: str | None
    meta: Mapping[str, str]
    json_ld: tuple[str, ...]
    scripts: tuple[str, ...]
    selected: Mapping[str, str | None]
    links: tuple[str, ...]


def document_parts(html: str, *, selectors: Mapping[str, Pick], links: Pick) -> DocumentParts:
    """Take a page apart once for scraper.metadata: head tags, scripts, selected values."""
    tree = LexborHTMLParser(html)
    root = tree.root
    title = tree.css_first("title")
    return DocumentParts(
        title=title.text(deep=True) if title is not None else None,
        language=root.attributes.get("lang") if root is not None else None,
        meta=_meta_content(tree),
        json_ld=_script_bodies(tree, "script[type]", json_ld=True),
        scripts=_script_bodies(tree, "script:not([src])", json_ld=False),
        selected={
            name: _select(root, selector) if root is not None else None
            for name, selector in selectors.items()
        },
        links=_select_all(tree, links),
    )


def _meta_content(tree: LexborHTMLParser) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.css("meta[content]")[:MAX_META_TAGS]:
        attributes = node.attributes
        name = attributes.get("name") or attributes.get("property") or attributes.get("itemprop")
        content = attributes.get("content")
        if name and content:
            found.setdefault(name.strip().lower(), content[:MAX_META_CHARS])
    return found


def _script_bodies(tree: LexborHTMLParser, css: str, *, json_ld: bool) -> tuple[str, ...]:
    """Inline JSON-LD blocks (`json_ld`), or inline scripts that run, capped in number and size."""
    limit = MAX_JSON_LD_CHARS if json_ld else MAX_SCRIPT_CHARS
    bodies: list[str] = []
    for node in tree.css(css):
        kind = (node.attributes.get("type") or "").strip().lower()
        wanted = kind == "application/ld+json" if json_ld else kind not in _DATA_SCRIPT_TYPES
        if wanted:
            bodies.append(node.text(deep=True)[:limit])
        if len(bodies) == (MAX_JSON_LD_BLOCKS if json_ld else MAX_SCRIPTS):
            break
    return tuple(bodies)


def _select_all(tree: LexborHTMLParser, selector: Pick) -> tuple[str, ...]:
    """Every match's attribute (or text), in document order, capped."""
    values = (
        node.attributes.get(selector.attr) if selector.attr else node_text(node)
        for node in tree.css(selector.css)[:MAX_LINK_NODES]
    )
    return tuple(value for value in values if value)
