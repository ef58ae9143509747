"""Selecting things out of HTML. Every selectolax call in the project lives in this module.

Selectors only select: the raw strings they return are cleaned and shaped in
scraper.normalise, so a parser change touches this file alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scraper.spec import Selector

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


def node_text(node: LexborNode) -> str:
    """Visible text of a node, with a space where a browser would break the line."""
    parts: list[str] = []
    _collect_text(node, parts)
    return "".join(parts)


def _collect_text(node: LexborNode, parts: list[str]) -> None:
    for child in node.iter(include_text=True):
        if child.is_text_node:
            parts.append(child.text_content or "")
        elif child.tag in INVISIBLE_TAGS:
            continue
        elif child.tag in BLOCK_TAGS:
            parts.append(" ")
            _collect_text(child, parts)
            parts.append(" ")
        else:
            _collect_text(child, parts)


def _select(scope: LexborNode, selector: Selector) -> str | None:
    node = scope.css_first(selector.css)
    if node is None:
        return None
    if selector.attr:
        return node.attributes.get(selector.attr)
    return node_text(node)


def extract_listing(
    html: str, *, item: str, fields: Mapping[str, Selector], next_page: Selector | None
) -> ListingPage:
    """Select every item element and, inside each, every configured field."""
    tree = LexborHTMLParser(html)
    records = tuple(
        RawRecord({name: _select(node, selector) for name, selector in fields.items()})
        for node in tree.css(item)
    )
    root = tree.root
    next_href = _select(root, next_page) if next_page and root is not None else None
    base = tree.css_first("base[href]")
    return ListingPage(
        records=records,
        next_href=next_href,
        base_href=base.attributes.get("href") if base is not None else None,
    )


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
