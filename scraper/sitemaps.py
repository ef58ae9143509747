"""Reading sitemaps (sitemaps.org protocol 0.9): a urlset of page URLs, or an index of sitemaps.

Everything here is untrusted input, so the reader is strict about what it will do and lenient
about what it will accept:

- a document with a DOCTYPE or an ENTITY declaration is refused before anything is expanded
  (billion laughs, external entities): a sitemap never needs one. expat is driven directly,
  with handlers that refuse, because xml.etree offers no such hook and defusedxml is not a
  dependency;
- gzip (a .xml.gz file; Content-Encoding is already undone by the fetcher) is inflated in
  bounded steps and refused past `max_bytes`, by default the protocol's own 50 MiB limit, so a
  small bomb cannot fill memory;
- namespaces are ignored: sites in the wild get the sitemap namespace wrong, and only the local
  names urlset / sitemapindex / url / sitemap / loc / lastmod matter;
- at most `max_entries` entries are read; `truncated` says there were more;
- an entry without a <loc>, or with an absurdly long one, is dropped and counted.

Failures are SitemapSyntaxError, a ValueError: this module knows no source, so the adapter
translates it, at one place, into a radar error carrying the source and the URL.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from enum import StrEnum
from xml.parsers import expat

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # sitemaps.org: at most 50 MiB uncompressed
MAX_ENTRIES = 50_000  # sitemaps.org: at most 50,000 URLs per file
MAX_LOC_CHARS = 2048
MAX_LASTMOD_CHARS = 64
MAX_DEPTH = 32
MAX_GZIP_MEMBERS = 64
GZIP_MAGIC = b"\x1f\x8b"


class SitemapSyntaxError(ValueError):
    """The bytes are not a sitemap we are willing to read; the message says why."""


class SitemapKind(StrEnum):
    URLSET = "urlset"
    INDEX = "sitemapindex"


# The element that holds one entry, by root element.
_ENTRY_TAG = {SitemapKind.URLSET: "url", SitemapKind.INDEX: "sitemap"}


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    """One <url> (a page) or <sitemap> (a child sitemap): its location and <lastmod> as given."""

    loc: str
    lastmod: str | None = None


@dataclass(frozen=True, slots=True)
class Sitemap:
    """A parsed sitemap document, in document order."""

    kind: SitemapKind
    entries: tuple[SitemapEntry, ...]
    truncated: bool = False  # more than max_entries entries: the rest were not read
    dropped: int = 0  # entries without a usable <loc>


def read_sitemap(
    body: bytes, *, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_SITEMAP_BYTES
) -> Sitemap:
    """Parse a sitemap or sitemap index, gzipped or not; raise SitemapSyntaxError if unusable."""
    return _parse(inflate(body, max_bytes=max_bytes), max_entries=max_entries)


def inflate(body: bytes, *, max_bytes: int = MAX_SITEMAP_BYTES) -> bytes:
    """`body`, gunzipped if it is gzip; refused when the result would exceed `max_bytes`."""
    if not body.startswith(GZIP_MAGIC):
        if len(body) > max_bytes:
            raise SitemapSyntaxError(f"larger than {max_bytes} bytes")
        return body
    out = bytearray()
    rest = body
    for _ in range(MAX_GZIP_MEMBERS):
        rest = _inflate_member(rest, out, max_bytes=max_bytes)
        if not rest.strip(b"\x00"):  # gzip(1) tolerates zero padding after the last member
            return bytes(out)
        if not rest.startswith(GZIP_MAGIC):
            raise SitemapSyntaxError("trailing garbage after the gzip data")
    raise SitemapSyntaxError(f"more than {MAX_GZIP_MEMBERS} gzip members")


def _inflate_member(data: bytes, out: bytearray, *, max_bytes: int) -> bytes:
    """Inflate one gzip member into `out` without exceeding the cap; return what follows it."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        # One byte more than allowed is enough to know the cap is broken.
        out += inflater.decompress(data, max_bytes + 1 - len(out))
    except zlib.error as exc:
        raise SitemapSyntaxError(f"broken gzip data: {exc}") from exc
    if len(out) > max_bytes:
        raise SitemapSyntaxError(f"larger than {max_bytes} bytes when inflated")
    if not inflater.eof:
        raise SitemapSyntaxError("truncated gzip data")
    return inflater.unused_data


class _Enough(Exception):
    """Raised inside expat to stop reading once max_entries entries are in."""


class _Reader:
    """expat callbacks collecting entries; refuses DTDs and entities."""

    def __init__(self, *, max_entries: int) -> None:
        self.max_entries = max_entries
        self.kind: SitemapKind | None = None
        self.entries: list[SitemapEntry] = []
        self.truncated = False
        self.dropped = 0
        self._path: list[str] = []
        self._fields: dict[str, str] = {}
        self._text: list[str] | None = None
        self._size = 0

    def refuse_doctype(self, *_: object) -> None:
        raise SitemapSyntaxError("a DOCTYPE is not allowed in a sitemap")

    def refuse_entity(self, *_: object) -> None:
        raise SitemapSyntaxError("an ENTITY declaration is not allowed in a sitemap")

    def start(self, name: str, _attrs: object) -> None:
        local = name.rpartition(" ")[2]  # "namespace localname" -> localname
        depth = len(self._path)
        if depth >= MAX_DEPTH:
            raise SitemapSyntaxError(f"nested deeper than {MAX_DEPTH} elements")
        self._path.append(local)
        if depth == 0:
            self._root(local)
        elif depth == 1 and local == self._entry_tag:
            self._fields = {}
        elif depth == 2 and local in ("loc", "lastmod") and self._path[1] == self._entry_tag:
            self._text, self._size = [], 0

    def _root(self, local: str) -> None:
        try:
            self.kind = SitemapKind(local)
        except ValueError:
            raise SitemapSyntaxError(
                f"root element <{local}> is neither <urlset> nor <sitemapindex>"
            ) from None

    @property
    def _entry_tag(self) -> str:
        return _ENTRY_TAG[self.kind] if self.kind else ""

    def text(self, data: str) -> None:
        if self._text is not None and self._size <= MAX_LOC_CHARS:
            self._text.append(data)
            self._size += len(data)

    def end(self, _name: str) -> None:
        local = self._path.pop()
        depth = len(self._path)
        if depth == 2 and self._text is not None:
            self._fields.setdefault(local, "".join(self._text).strip())
            self._text = None
        elif depth == 1 and local == self._entry_tag:
            self._add(self._fields)

    def _add(self, fields: dict[str, str]) -> None:
        loc = fields.get("loc", "")
        if not loc or len(loc) > MAX_LOC_CHARS:
            self.dropped += 1
            return
        if len(self.entries) == self.max_entries:
            self.truncated = True
            raise _Enough
        lastmod = fields.get("lastmod") or None
        if lastmod is not None and len(lastmod) > MAX_LASTMOD_CHARS:
            lastmod = None  # not a W3C datetime: as good as none
        self.entries.append(SitemapEntry(loc, lastmod))


def _parse(data: bytes, *, max_entries: int) -> Sitemap:
    reader = _Reader(max_entries=max_entries)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = reader.refuse_doctype
    parser.EntityDeclHandler = reader.refuse_entity
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except _Enough:
        pass
    except expat.ExpatError as exc:
        raise SitemapSyntaxError(f"not well-formed XML: {exc}") from exc
    if reader.kind is None:
        raise SitemapSyntaxError("no root element")
    return Sitemap(reader.kind, tuple(reader.entries), reader.truncated, reader.dropped)
