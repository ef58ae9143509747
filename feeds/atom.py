"""Atom feeds of new items for editors: pure, from current data to bytes, no I/O.

Editors must be able to trust the feed, so an entry's id is minted once (`entry_id_for`) and
never changes, and the feed is a function of current data: an item whose title changed is
the same entry with a new <updated>, never a second entry.

Everything that came from the web is plain text: titles and summaries are written as
type="text" and escaped by lxml, and characters XML forbids are dropped first, because lxml
refuses them and one bad item must not break the whole feed.

feedgen 1.0 cannot say three things we need on an entry: xml:lang, type="text" on <title>,
and rel="alternate" on <link> (its entry writer drops link attributes). Instead of reparsing
its output, each entry registers `_EntryAttributes`, an entry extension: feedgen's public
hook that hands us the entry's lxml element while it builds the tree.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, urlsplit

from feedgen.feed import FeedGenerator

from radar.items import PartialDate, Precision

if TYPE_CHECKING:
    from collections.abc import Sequence

# Part of every item id: changing it would re-announce every item ever published.
ENTRY_ID_YEAR = 2026
SOURCE_SCHEME = "urn:inspiration-radar:source"
CATALOGUE_SCHEME = "urn:inspiration-radar:catalogue"
RELEVANCE_SCHEME = "urn:inspiration-radar:relevance"
IN_CATALOGUE_LABEL = "Allerede i kataloget"
PRECISION_SCHEME = "urn:inspiration-radar:date-precision"
FIRST_SEEN = "first-seen"
# Atom requires a non-empty title; Danish because that is what editors read.
UNTITLED = "(uden titel)"
_PRECISION_LABELS = {
    Precision.DAY.value: "Dato: dag",
    Precision.MONTH.value: "Dato: måned",
    Precision.YEAR.value: "Dato: år",
    FIRST_SEEN: "Dato: først set af radaren",
}

# What XML 1.0 forbids, plus C1 controls: readers such as feedparser turn those into
# Windows-1252 characters ("\x80" becomes "€"), so they would show editors the wrong text.
_NOT_TEXT = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
# RFC 4151 `specific`: pchar / "/" / "?"; "%" is always encoded so encoding stays one-to-one.
_TAG_SPECIFIC_SAFE = "-._~!$&'()*+,;=:@/?"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class FeedEntry:
    """One item as the feed shows it now. Datetimes are aware; they are written in UTC."""

    entry_id: str
    title: str
    link: str
    summary: str | None
    source_name: str
    source_title: str
    category: str | None
    language: str | None
    published: PartialDate | None
    first_seen: datetime
    updated: datetime
    # The catalogue already links to this item: editors need not add it again.
    in_catalogue: bool = False
    # The relevance score (0..1) and the profile terms that made it, so editors see why.
    relevance: float | None = None
    matched_terms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_web_url("link", self.link)
        _require_aware("first_seen", self.first_seen)
        _require_aware("updated", self.updated)
        if self.language is not None:
            _require_language(self.language)


@dataclass(frozen=True)
class FeedMeta:
    """The feed itself; `language` is the default for entries whose language is unknown."""

    feed_id: str
    title: str
    subtitle: str | None
    updated: datetime
    self_url: str | None = None
    alternate_url: str | None = None
    language: str = "da"
    author: str = "Inspiration Radar"
    generator: str = "Inspiration Radar"

    def __post_init__(self) -> None:
        _require_aware("updated", self.updated)
        _require_language(self.language)
        for name in ("self_url", "alternate_url"):
            url = getattr(self, name)
            if url is not None:
                _require_web_url(name, url)


def tag_uri(*, authority: str, year: int, specific: str) -> str:
    """An RFC 4151 tag URI; `specific` is percent-encoded where the RFC does not allow it."""
    if not 0 <= year <= 9999:
        raise ValueError(f"tag URI year must have four digits, got {year}")
    name = _dns_name(authority)
    return f"tag:{name},{year:04d}:{quote(specific, safe=_TAG_SPECIFIC_SAFE)}"


def _dns_name(authority: str) -> str:
    """The authority lower-cased, so ids survive a config edit that only changes case."""
    # ASCII first: str.lower() folds some non-ASCII letters into ASCII ("\u212a" -> "k").
    name = authority.lower()
    if not authority.isascii() or len(name) > 253 or not _DNS_NAME.fullmatch(name):
        raise ValueError(f"tag URI authority must be a DNS name, got {authority!r}")
    return name


def entry_id_for(*, authority: str, source_name: str, item_key: str) -> str:
    """The id an item keeps for ever: the same source and key always give the same id."""
    if not source_name or not item_key:
        raise ValueError("entry ids need a source name and an item key")
    digest = hashlib.sha256(item_key.encode("utf-8")).hexdigest()[:24]
    return tag_uri(authority=authority, year=ENTRY_ID_YEAR, specific=f"item:{source_name}:{digest}")


def build_atom(
    meta: FeedMeta,
    entries: Sequence[FeedEntry],
    *,
    max_entries: int = 200,
    keep_order: bool = False,
) -> bytes:
    """The feed as UTF-8 XML, at most `max_entries` entries: newest first by first_seen,
    or in the given order with `keep_order` (a review feed, most relevant first)."""
    if max_entries < 0:
        raise ValueError(f"max_entries must not be negative, got {max_entries}")
    _require_unique_ids(entries)
    generator = _feed_generator(meta)
    ordered = list(entries) if keep_order else _newest_first(entries)
    for entry in ordered[:max_entries]:
        _add_entry(generator, entry)
    feed: bytes = generator.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return feed


def _feed_generator(meta: FeedMeta) -> FeedGenerator:
    generator = FeedGenerator()
    generator.id(_text(meta.feed_id))
    generator.title(_text(meta.title) or UNTITLED)
    if meta.subtitle and _text(meta.subtitle):
        generator.subtitle(_text(meta.subtitle))
    generator.updated(meta.updated.astimezone(UTC))
    generator.author(name=_text(meta.author))
    generator.generator(_text(meta.generator))
    generator.language(meta.language)
    if meta.alternate_url is not None:
        generator.link(href=_text(meta.alternate_url), rel="alternate")
    if meta.self_url is not None:
        generator.link(href=_text(meta.self_url), rel="self", type="application/atom+xml")
    return generator


def _add_entry(generator: FeedGenerator, entry: FeedEntry) -> None:
    published, precision = _published(entry)
    item = generator.add_entry(order="append")
    item.register_extension(
        "radar",
        functools.partial(_EntryAttributes, language=entry.language),
        atom=True,
        rss=False,
    )
    item.id(_text(entry.entry_id))
    item.title(_text(entry.title) or UNTITLED)
    item.link(href=_text(entry.link), rel="alternate")
    summary = _text(entry.summary or "")
    if entry.in_catalogue:
        # Said in the summary too, since most readers never show categories.
        summary = f"{IN_CATALOGUE_LABEL}. {summary}".strip()
    if summary:
        item.summary(summary, type="text")
    item.author(name=_text(entry.source_title) or _text(entry.source_name))
    if entry.category and _text(entry.category):
        item.category(term=_text(entry.category), label=_text(entry.category))
    item.category(
        term=_text(entry.source_name), label=_text(entry.source_title), scheme=SOURCE_SCHEME
    )
    item.category(term=precision, label=_PRECISION_LABELS[precision], scheme=PRECISION_SCHEME)
    if entry.in_catalogue:
        item.category(term="in-catalogue", label=IN_CATALOGUE_LABEL, scheme=CATALOGUE_SCHEME)
    if entry.relevance is not None:
        item.category(
            term=f"{entry.relevance:.2f}", label=_relevance_label(entry), scheme=RELEVANCE_SCHEME
        )
    item.published(published)
    item.updated(entry.updated.astimezone(UTC))


def _relevance_label(entry: FeedEntry) -> str:
    score = f"{entry.relevance or 0:.2f}".replace(".", ",")  # Danish decimal comma
    terms = ", ".join(term.rstrip("*") for term in entry.matched_terms[:8])
    return _text(f"Relevans {score}" + (f": {terms}" if terms else ""))


def _published(entry: FeedEntry) -> tuple[datetime, str]:
    """The item's own date at the start of its period, or first_seen when it has none."""
    if entry.published is None:
        return entry.first_seen.astimezone(UTC), FIRST_SEEN
    value, precision = entry.published.value, entry.published.precision
    month = 1 if precision is Precision.YEAR else value.month
    day = value.day if precision is Precision.DAY else 1
    return datetime(value.year, month, day, tzinfo=UTC), precision.value


def _newest_first(entries: Sequence[FeedEntry]) -> list[FeedEntry]:
    # A stable sort: items first seen in the same run keep the caller's order, which is the
    # order the source listed them in (newest first on almost every listing).
    return sorted(entries, key=lambda entry: entry.first_seen, reverse=True)


def _require_unique_ids(entries: Sequence[FeedEntry]) -> None:
    # Two entries with one id would show editors the same item twice: a caller bug.
    seen: set[str] = set()
    for entry in entries:
        if entry.entry_id in seen:
            raise ValueError(f"duplicate entry id {entry.entry_id!r}")
        seen.add(entry.entry_id)


def _text(value: str) -> str:
    """Text XML can carry and readers show as given, trimmed; lxml refuses the rest."""
    return _NOT_TEXT.sub("", value).strip()


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _require_language(language: str) -> None:
    if not _LANGUAGE_TAG.fullmatch(language):
        raise ValueError(f"not a language tag: {language!r}")


def _require_web_url(name: str, url: str) -> None:
    # Readers make links clickable: a javascript: URL in a feed would run in the reader.
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {url!r}")


class _XmlElement(Protocol):
    """The part of lxml's element API the extension uses (lxml ships no type stubs)."""

    def set(self, key: str, value: str) -> None: ...

    def find(self, path: str) -> _XmlElement | None: ...


class _EntryAttributes:
    """feedgen entry extension: sets the attributes feedgen's entry API cannot express."""

    def __init__(self, *, language: str | None) -> None:
        self._language = language

    def extend_atom(self, entry: _XmlElement) -> _XmlElement:
        # No xml:lang means the entry inherits the feed's, the deployment's default language.
        if self._language is not None:
            entry.set(_XML_LANG, self._language)
        # feedgen writes Atom elements without a namespace and declares it on <feed>.
        for tag, attribute, value in (("title", "type", "text"), ("link", "rel", "alternate")):
            element = entry.find(tag)
            if element is not None:
                element.set(attribute, value)
        return entry
