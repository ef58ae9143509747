"""Turning response bytes into text with the encoding a browser would pick.

Order, as in the HTML standard: byte-order mark, then the HTTP charset, then a <meta>
declaration in the first bytes, then UTF-8 if the bytes are valid UTF-8, else windows-1252.
Danish and Swedish pages served as latin-1 without a header charset are common, and
æ, ø, å, ä, ö must survive.
"""

from __future__ import annotations

import codecs
import re

_META_SCAN_BYTES = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# The WHATWG Encoding Standard's labels for windows-1252: browsers read latin-1 and ASCII
# pages as windows-1252, so – € ’ in such pages come out right.
_WINDOWS_1252_LABELS = frozenset(
    {
        "ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1",
        "iso-ir-100", "iso8859-1", "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1",
        "latin-1", "us-ascii", "windows-1252", "x-cp1252",
    }
)  # fmt: skip
# Without a BOM (checked first) browsers never read a page as UTF-16: a <meta> that says so
# was itself readable as ASCII, so the page is really UTF-8.
_UTF16_LABELS = frozenset({"utf-16", "utf-16le", "utf-16be", "utf-16-le", "utf-16-be"})
# Python codecs no web page may pick: they are not text encodings.
_NOT_FOR_PAGES = frozenset(
    {"idna", "punycode", "undefined", "raw_unicode_escape", "unicode_escape"}
)


def _known_codec(label: str | None) -> str | None:
    """A Python text codec for a charset label, or None for labels browsers would not accept."""
    if not label:
        return None
    label = label.strip().lower()
    if label in _WINDOWS_1252_LABELS:
        return "cp1252"
    if label in _UTF16_LABELS:
        return "utf-8"
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_FOR_PAGES:
        return None
    return info.name


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if it names a codec we know."""
    match = _HEADER_CHARSET.search(content_type or "")
    return _known_codec(match.group(1)) if match else None


def meta_charset(body: bytes) -> str | None:
    """The charset a <meta> tag declares in the first few kilobytes, if any."""
    match = _META_CHARSET.search(body[:_META_SCAN_BYTES])
    return _known_codec(match.group(1).decode("ascii", "replace")) if match else None


def choose_encoding(body: bytes, content_type: str | None) -> tuple[str, int]:
    """The codec to use and how many leading BOM bytes to skip."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, len(bom)
    declared = header_charset(content_type) or meta_charset(body)
    if declared:
        return declared, 0
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252", 0
    return "utf-8", 0


def decode_body(body: bytes, content_type: str | None) -> str:
    """Decode the body; undecodable bytes become U+FFFD rather than failing the page."""
    encoding, skip = choose_encoding(body, content_type)
    try:
        return body[skip:].decode(encoding, errors="replace")
    except (LookupError, UnicodeError):
        return body[skip:].decode("cp1252", errors="replace")


_BINARY_SCAN_BYTES = 2048
# C0 controls other than tab, newline, vertical tab, form feed and carriage return.
_CONTROL_BYTES = bytes([*range(9), *range(14, 32)])


def looks_binary(body: bytes) -> bool:
    """True for bytes no text page has: many NULs and control bytes near the start.

    A stray NUL or two does occur in real (broken) pages; those are read, and the
    normaliser removes the control characters.
    """
    head = body[:_BINARY_SCAN_BYTES]
    if not head or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    # translate() drops them in C: a byte-by-byte loop cost ~50 µs a page.
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls / len(head) > 0.05
