"""What a detail page says about itself: title, summary, date, category, links and language.

Pages describe themselves in several vocabularies at once, often filling some and leaving others
empty or stale. Each field is taken from the first of these that gives it:

1. the source's CSS selectors (`detail:` in config.yaml): whoever configured them knows best;
2. the source's script fields (`script_fields:`): `"key": "value"` pairs in inline scripts, such
   as Nesta's analytics `dataLayer.push({"publishDate": "2024-03-12", "areasOfWork": "…"})`;
3. JSON-LD (schema.org), `@graph` and `mainEntity` included, from nodes of a creative-work type,
   the most specific type first (a Report's headline beats the WebPage's name);
4. `citation_*` (Highwire, Google Scholar) and Dublin Core `DC.*` / `DCTERMS.*` meta tags;
5. OpenGraph: `og:title`, `og:description`, `article:published_time`, `article:section`;
6. `<title>` (less a trailing " | <og:site_name>") and `<meta name="description">`.

Links are every match of the `links` selector if one is configured, otherwise the page's links
to PDF files. The date stays a raw string: scraper.dates reads it later with the source's
language. Pure and defensive: the page is taken apart by scraper.extract, a JSON-LD block that
does not parse or holds the wrong shapes is passed over, and nothing here raises on bad input,
with one known exception: scraper.extract.node_text recurses once per element level, so text
nested a few thousand elements deep raises RecursionError (callers treat the page as unreadable).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scraper.extract import document_parts, fragment_text
from scraper.spec import Selector
from scraper.urls import absolute_url

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from scraper.extract import DocumentParts

FIELDS = ("title", "summary", "date", "category")
MAX_VALUE_CHARS = 10_000
MAX_LINKS = 50
MAX_JSON_LD_NODES = 200
MAX_JSON_LD_DEPTH = 6
# Longest script-field value read; a longer one is not a label or a date.
MAX_SCRIPT_VALUE_CHARS = 2_000
ALL_LINKS = Selector(css="a[href]", attr="href")

# schema.org types whose nodes describe the page's content, most specific first.
JSON_LD_TYPES = (
    "Report",
    "ScholarlyArticle",
    "NewsArticle",
    "BlogPosting",
    "Article",
    "Book",
    "CreativeWork",
    "WebPage",
)
_JSON_LD_KEYS = {
    "title": ("headline", "name"),
    "summary": ("description", "abstract"),
    "date": ("datePublished",),
    "category": ("keywords", "about", "articleSection"),
}
# Meta tag names (lower-case) by field, in order of trust.
_SCHOLARLY_META = {
    "title": ("citation_title", "dc.title", "dcterms.title"),
    "summary": ("citation_abstract", "dc.description", "dcterms.description", "dcterms.abstract"),
    "date": ("citation_publication_date", "citation_date", "dc.date", "dcterms.issued"),
    "category": ("citation_keywords", "dc.subject", "dcterms.subject"),
}
_OPENGRAPH_META = {
    "title": ("og:title",),
    "summary": ("og:description",),
    "date": ("article:published_time",),
    "category": ("article:section",),
}
_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ")
_LANGUAGE = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*")


@dataclass(frozen=True, slots=True)
class PageMetadata:
    """A page's own description of itself, as raw strings (None where it gives nothing)."""

    title: str | None = None
    summary: str | None = None
    date: str | None = None
    category: str | None = None
    links: tuple[str, ...] = ()
    language: str | None = None

    def fields(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in FIELDS}


def page_metadata(
    html: str,
    *,
    url: str,
    selectors: Mapping[str, Selector] | None = None,
    script_fields: Mapping[str, str] | None = None,
) -> PageMetadata:
    """Read a page's metadata, each field from the most trusted place that gives it.

    `selectors` maps title / summary / date / category (first match) and links (every match) to
    CSS selectors; `script_fields` maps fields to the keys of `"key": "value"` script pairs.
    """
    chosen = dict(selectors or {})
    link_selector = chosen.pop("links", None)
    parts = document_parts(html, selectors=chosen, links=link_selector or ALL_LINKS)
    nodes = _ranked_nodes(parts.json_ld)
    found = {
        field: _first(_candidates(field, parts, nodes, script_fields or {})) for field in FIELDS
    }
    hrefs = parts.links if link_selector else [h for h in parts.links if _is_pdf(h)]
    links = (absolute_url(url, href) for href in hrefs)
    return PageMetadata(
        **found,
        links=tuple(dict.fromkeys(link for link in links if link))[:MAX_LINKS],
        language=_language(parts, nodes),
    )


def _candidates(
    field: str, parts: DocumentParts, nodes: list[dict[str, Any]], script_fields: Mapping[str, str]
) -> Iterator[str | None]:
    """The places `field` may come from, most trusted first; evaluated lazily."""
    yield parts.selected.get(field)
    key = script_fields.get(field)
    if key:
        yield script_value(parts.scripts, key)
    yield from (_json_ld_field(node, field) for node in nodes)
    yield from (parts.meta.get(name) for name in _SCHOLARLY_META[field])
    yield from (parts.meta.get(name) for name in _OPENGRAPH_META[field])
    if field == "title":
        yield _strip_site_name(parts.title, parts.meta.get("og:site_name"))
    elif field == "summary":
        yield parts.meta.get("description")


def _first(values: Iterable[str | None]) -> str | None:
    """The first value with visible text, capped; whitespace-only values count as missing."""
    for value in values:
        if value is not None and value.strip():
            return value[:MAX_VALUE_CHARS]
    return None


# JSON-LD


def _ranked_nodes(blocks: Iterable[str]) -> list[dict[str, Any]]:
    """The creative-work nodes of every block that parses, the most specific type first."""
    nodes: list[dict[str, Any]] = []
    for block in blocks:
        _collect(_load(block), nodes, depth=0)
    typed = [(rank, node) for node in nodes if (rank := _type_rank(node)) is not None]
    return [node for _, node in sorted(typed, key=lambda pair: pair[0])]


def _load(block: str) -> Any:
    # strict=False lets raw newlines inside strings through, a common CMS slip. A pathological
    # nesting depth raises RecursionError, not ValueError.
    try:
        return json.loads(block, strict=False)
    except (ValueError, RecursionError):
        return None


def _collect(value: Any, nodes: list[dict[str, Any]], *, depth: int) -> None:
    if depth > MAX_JSON_LD_DEPTH or len(nodes) >= MAX_JSON_LD_NODES:
        return
    if isinstance(value, list):
        for element in value[:MAX_JSON_LD_NODES]:
            _collect(element, nodes, depth=depth + 1)
    elif isinstance(value, dict):
        nodes.append(value)
        for key in ("@graph", "mainEntity"):
            if key in value:
                _collect(value[key], nodes, depth=depth + 1)


def _type_rank(node: dict[str, Any]) -> int | None:
    declared = node.get("@type")
    types = declared if isinstance(declared, list) else [declared]
    # "Report", "schema:Report" and "https://schema.org/Report" name the same type.
    names = [t.rpartition("/")[2].rpartition(":")[2] for t in types if isinstance(t, str)]
    return min((JSON_LD_TYPES.index(n) for n in names if n in JSON_LD_TYPES), default=None)


def _json_ld_field(node: dict[str, Any], field: str) -> str | None:
    join = field == "category"  # several keywords are one category line; several titles are not
    for key in _JSON_LD_KEYS[field]:
        text = _json_ld_text(node.get(key), join=join)
        if text:
            return text
    return None


def _json_ld_text(value: Any, *, join: bool) -> str | None:
    """A JSON-LD value as text: a string, a {"name"} or {"@value"} object, or a list of them."""
    if isinstance(value, list):
        texts = [t for t in map(_json_ld_scalar, value[:50]) if t]
        return (", ".join(texts) if join else texts[0]) if texts else None
    return _json_ld_scalar(value)


def _json_ld_scalar(value: Any) -> str | None:
    # Never recursive: a hostile page may nest lists as deep as the JSON parser allows.
    if isinstance(value, dict):
        value = value.get("@value", value.get("name"))
    if not isinstance(value, str) or not value.strip():
        return None
    # JSON-LD is raw script text, so entities and markup in it are still encoded.
    return fragment_text(value[:MAX_VALUE_CHARS]) if "<" in value or "&" in value else value


# Script fields


def script_value(scripts: Iterable[str], key: str) -> str | None:
    """The first non-empty value of `"key": "value"` (or 'key', or bare key) in inline scripts.

    Values may be double- or single-quoted strings, or an array of strings (joined with ", ").
    The pattern's repetitions are bounded, so a hostile script cannot make it backtrack for long.
    """
    pattern = _script_pattern(key)
    for script in scripts:
        for match in pattern.finditer(script):
            value = _script_literal(match)
            if value and value.strip():
                return value
    return None


def _script_pattern(key: str) -> re.Pattern[str]:
    name = re.escape(key)
    n = MAX_SCRIPT_VALUE_CHARS
    return re.compile(
        rf"""(?:"{name}"|'{name}'|(?<![\w$]){name}(?![\w$]))\s*:\s*"""
        rf"""(?:"((?:[^"\\\n]|\\.){{0,{n}}})"|'((?:[^'\\\n]|\\.){{0,{n}}})'|\[([^\]]{{0,{n}}})\])"""
    )


def _script_literal(match: re.Match[str]) -> str | None:
    double, single, array = match.groups()
    if array is not None:
        strings = re.findall(r""""((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'""", array)
        texts = [_unescape(d or s) for d, s in strings]
        return ", ".join(t for t in texts if t.strip()) or None
    return _unescape(double if double is not None else single)


_JS_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\s\S])")
_JS_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}


def _unescape(body: str) -> str:
    """A JavaScript string literal's body as text: \\n, \\', \\u00e6, \\x41 and the rest."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) > 1:
            return chr(int(code[1:], 16))
        return _JS_SIMPLE_ESCAPES.get(code, code)

    text = _JS_ESCAPE.sub(one, body)
    # "\ud83d\ude00" arrives as two lone surrogates; pair them, replace any left alone.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


# Plain HTML fallbacks


def _strip_site_name(title: str | None, site_name: str | None) -> str | None:
    """ "Shifting the dial | Nesta" -> "Shifting the dial", when the site's name is known."""
    if title is None or not site_name or not site_name.strip():
        return title
    stripped = title.strip()
    for separator in _TITLE_SEPARATORS:
        suffix = separator + site_name.strip()
        if stripped.endswith(suffix) and len(stripped) > len(suffix):
            return stripped[: -len(suffix)]
    return title


def _is_pdf(href: str) -> bool:
    try:
        return urlsplit(href.strip()).path.lower().endswith(".pdf")
    except ValueError:
        return False


def _language(parts: DocumentParts, nodes: list[dict[str, Any]]) -> str | None:
    """The primary language subtag the page declares ("en-GB" -> "en"), if any."""
    in_json_ld = next((n["inLanguage"] for n in nodes if n.get("inLanguage")), None)
    for value in (parts.language, in_json_ld, parts.meta.get("og:locale")):
        match = _LANGUAGE.fullmatch(value.strip()) if isinstance(value, str) else None
        if match:
            return match.group(1).lower()
    return None
