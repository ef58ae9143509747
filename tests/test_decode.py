"""Choosing a page's encoding as a browser would: BOM, HTTP charset, <meta>, UTF-8, windows-1252.

Danish and Swedish pages served as latin-1 without a header charset are common; æ, ø, å, ä, ö
and windows-1252's extras (– € ’) in the 0x80-0x9F range must survive.
"""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scraper.decode import choose_encoding, decode_body, header_charset, looks_binary, meta_charset

PHRASE = "Æblegrød på ø, Malmö och Göteborg"
EXTRAS = "Pris – 5 € – ’citat’"  # 0x96, 0x80, 0x92 in windows-1252; C1 controls in latin-1


def page(head: str = "", *, encoding: str = "cp1252") -> bytes:
    text = (
        f"<!doctype html><html><head>{head}<title>Nyheder</title></head>"
        f"<body><p>{PHRASE}</p><p>{EXTRAS}</p></body></html>"
    )
    return text.encode(encoding)


def assert_readable(text: str) -> None:
    assert PHRASE in text
    assert EXTRAS in text
    assert "\ufffd" not in text


def test_meta_charset_windows_1252() -> None:
    body = page('<meta charset="windows-1252">')
    assert choose_encoding(body, "text/html") == ("cp1252", 0)
    assert_readable(decode_body(body, "text/html"))


def test_meta_http_equiv_iso_8859_1_is_read_as_windows_1252() -> None:
    body = page('<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">')
    assert meta_charset(body) == "cp1252"
    assert choose_encoding(body, "text/html") == ("cp1252", 0)
    assert_readable(decode_body(body, "text/html"))


def test_meta_in_capitals_and_single_quotes() -> None:
    body = page("<META CHARSET='WINDOWS-1252'>")
    assert choose_encoding(body, None) == ("cp1252", 0)
    assert_readable(decode_body(body, None))


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html; charset=windows-1252",
        "text/html; charset=ISO-8859-1",
        'text/html; charset="iso-8859-1"',
        "text/html;Charset=latin1",
    ],
)
def test_http_header_charset(content_type: str) -> None:
    body = page()
    assert header_charset(content_type) == "cp1252"
    assert choose_encoding(body, content_type) == ("cp1252", 0)
    assert_readable(decode_body(body, content_type))


@pytest.mark.parametrize("content_type", [None, "text/html"])
def test_undeclared_latin_1_bytes_fall_back_to_windows_1252(content_type: str | None) -> None:
    body = page()
    assert choose_encoding(body, content_type) == ("cp1252", 0)
    assert_readable(decode_body(body, content_type))


@pytest.mark.parametrize("content_type", [None, "text/html"])
def test_undeclared_utf8_is_utf8(content_type: str | None) -> None:
    body = page(encoding="utf-8")
    assert choose_encoding(body, content_type) == ("utf-8", 0)
    assert_readable(decode_body(body, content_type))


def test_pure_ascii_is_utf8() -> None:
    assert choose_encoding(b"<p>plain</p>", None) == ("utf-8", 0)
    assert decode_body(b"", None) == ""


@pytest.mark.parametrize(
    ("bom", "codec", "expected"),
    [
        (codecs.BOM_UTF8, "utf-8", "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
    ],
)
def test_bom_beats_header_and_meta(bom: bytes, codec: str, expected: str) -> None:
    body = bom + page('<meta charset="windows-1252">', encoding=codec)
    content_type = "text/html; charset=iso-8859-1"
    assert choose_encoding(body, content_type) == (expected, len(bom))
    text = decode_body(body, content_type)
    assert not text.startswith("\ufeff")
    assert text.startswith("<!doctype html>")
    assert_readable(text)


def test_header_beats_meta() -> None:
    utf8_body = page('<meta charset="windows-1252">', encoding="utf-8")
    assert choose_encoding(utf8_body, "text/html; charset=utf-8") == ("utf-8", 0)
    assert_readable(decode_body(utf8_body, "text/html; charset=utf-8"))

    latin_body = page('<meta charset="utf-8">')
    assert choose_encoding(latin_body, "text/html; charset=windows-1252") == ("cp1252", 0)
    assert_readable(decode_body(latin_body, "text/html; charset=windows-1252"))


def test_unknown_header_label_falls_back_to_meta() -> None:
    body = page('<meta charset="windows-1252">')
    content_type = "text/html; charset=x-klingon"
    assert header_charset(content_type) is None
    assert choose_encoding(body, content_type) == ("cp1252", 0)
    assert_readable(decode_body(body, content_type))


@pytest.mark.parametrize(("encoding", "expected"), [("cp1252", "cp1252"), ("utf-8", "utf-8")])
def test_unknown_labels_everywhere_fall_back_to_sniffing(encoding: str, expected: str) -> None:
    body = page('<meta charset="x-klingon">', encoding=encoding)
    content_type = "text/html; charset=no-such-thing"
    assert meta_charset(body) is None
    assert choose_encoding(body, content_type) == (expected, 0)
    assert_readable(decode_body(body, content_type))


def test_wrong_declaration_replaces_bad_bytes_instead_of_failing() -> None:
    body = page()  # windows-1252 bytes, declared UTF-8
    text = decode_body(body, "text/html; charset=utf-8")
    assert "\ufffd" in text
    assert "Malm\ufffd och G\ufffdteborg" in text


@pytest.mark.parametrize(
    "label",
    [
        "base64",
        "rot13",
        "undefined",
        "idna",
    ],
)
@pytest.mark.parametrize("where", ["header", "meta"])
def test_labels_of_python_only_codecs_fall_back_sanely(label: str, where: str) -> None:
    if where == "header":
        body, content_type = page(), f"text/html; charset={label}"
    else:
        body, content_type = page(f'<meta charset="{label}">'), "text/html"
    assert_readable(decode_body(body, content_type))


@pytest.mark.parametrize(
    "label",
    [
        "iso-8859-1",
        "ISO-8859-1",
        "iso8859-1",
        "latin1",
        "l1",
        "us-ascii",
        "windows-1252",
        "x-cp1252",
        "iso_8859-1",
        "cp819",
        "csisolatin1",
    ],
)
def test_windows_1252_labels_as_browsers_read_them(label: str) -> None:
    # https://encoding.spec.whatwg.org/#names-and-labels: all of these mean windows-1252.
    assert_readable(decode_body(page(), f"text/html; charset={label}"))


def test_meta_utf16_without_bom_means_utf8() -> None:
    body = page('<meta charset="utf-16">', encoding="utf-8")
    assert choose_encoding(body, "text/html") == ("utf-8", 0)
    assert_readable(decode_body(body, "text/html"))


# --- binary bodies --------------------------------------------------------------------------


def _controls_by_loop(body: bytes) -> bool:
    """looks_binary as first written, byte by byte: the oracle for the translate() form."""
    head = body[:2048]
    if not head or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return sum(1 for byte in head if byte < 9 or 13 < byte < 32) / len(head) > 0.05


@given(
    st.lists(
        st.one_of(st.binary(max_size=64), st.sampled_from([b"<p>tekst</p>", b"\t\n\r\x0b\x0c"])),
        max_size=80,
    ).map(b"".join)
)
def test_looks_binary_counts_control_bytes_as_the_loop_did(body: bytes) -> None:
    assert looks_binary(body) == _controls_by_loop(body)


def test_looks_binary_on_real_and_binary_bodies() -> None:
    assert not looks_binary(b"<!doctype html><p>Borgerinddragelse\tog samskabelse</p>")
    assert looks_binary(bytes(range(256)) * 8)
    assert not looks_binary(codecs.BOM_UTF16_LE + "<p>tekst</p>".encode("utf-16-le"))
    assert not looks_binary(b"")
