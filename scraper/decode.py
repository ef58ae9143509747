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
# Browsers treat these labels as windows-1252, which is a superset of latin-1's printable range.
_WINDOWS_1252_ALIASES = frozenset(
    {"latin-1", "latin1", "iso-8859-1", "iso8859-1", "us-ascii", "ascii", "l1"}
)


def _known_codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    if label in _WINDOWS_1252_ALIASES:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


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
    return body[skip:].decode(encoding, errors="replace")
