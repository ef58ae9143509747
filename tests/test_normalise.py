"""scraper.normalise: cleaning selected text and shaping records into items (or skipping them)."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radar.items import ExtractedItem, PartialDate, Precision
from scraper.extract import RawRecord
from scraper.normalise import MAX_FIELD_CHARS, build_item, build_items, clean_text

PAGE = "https://centerforborgerdialog.dk/category/inspiration-praksis/page/2/"


def record(**fields: str | None) -> RawRecord:
    return RawRecord(fields)


# --- clean_text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Demokrati  i  praksis ", "Demokrati i praksis"),
        ("a\tb\nc\r\nd", "a b c d"),
        ("\n\n  Borgerting\n\t  om klima\n", "Borgerting om klima"),
        # Unicode whitespace: NBSP, narrow NBSP, thin, em and ideographic spaces, line separators.
        ("a\u00a0b", "a b"),
        ("a\u00a0\u00a0 \u00a0b", "a b"),
        ("\u00a0a\u00a0", "a"),
        ("a\u202fb\u2009c\u2003d\u3000e", "a b c d e"),
        ("a\u2028b\u2029c", "a b c"),
        # C0 and C1 control characters are not text.
        ("a\x00b", "ab"),
        ("Tom\x07 og\x1b Jerry", "Tom og Jerry"),
        ("a\x7fb\x80c\x9fd", "abcd"),
        ("a\ufffeb\uffff", "ab"),
        ("\x00\x01\x02", None),
        # Everything else is text.
        ("Ærø – “Borgerdialog” 100 %", "Ærø – “Borgerdialog” 100 %"),
        ("Väljare på Åland", "Väljare på Åland"),
    ],
)
def test_clean_text(raw: str, expected: str | None) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize("raw", [None, "", " ", "\n\t ", "\u00a0\u2003", "\x00 \x1f"])
def test_clean_text_of_nothing_is_none(raw: str | None) -> None:
    assert clean_text(raw) is None


def test_clean_text_nfc_normalises() -> None:
    decomposed = "Bla\u030aba\u030ar og sma\u030a ve\u0301n"  # å and é as letter + combining mark
    composed = "Blåbår og små vén"
    assert decomposed != composed
    assert clean_text(decomposed) == composed
    assert clean_text(composed) == composed
    assert clean_text(decomposed) == clean_text(composed)


def test_clean_text_limit_truncates_with_ellipsis() -> None:
    assert clean_text("abcdefghij", limit=10) == "abcdefghij"
    assert clean_text("abcdefghijk", limit=10) == "abcdefghi…"
    assert clean_text("  abcdefghij  ", limit=10) == "abcdefghij"  # limit counts cleaned text
    # No dangling space before the ellipsis.
    assert clean_text("abcd efgh ijkl", limit=6) == "abcd…"
    assert clean_text("abc", limit=None) == "abc"


@given(st.text(), st.integers(min_value=1, max_value=60))
def test_clean_text_properties(raw: str, limit: int) -> None:
    text = clean_text(raw, limit=limit)
    if text is None:
        return
    assert len(text) <= limit
    assert text == text.strip()
    assert "  " not in text
    assert not any(ch.isspace() and ch != " " for ch in text)
    assert not any(unicodedata.category(ch) == "Cc" for ch in text)
    unlimited = clean_text(raw)
    assert unlimited is not None
    assert clean_text(unlimited) == unlimited  # idempotent
    assert unicodedata.is_normalized("NFC", unlimited)
    if len(unlimited) <= limit:
        assert text == unlimited
    else:
        assert text.endswith("…")


def _stripped_control(ch: str) -> bool:
    """A character clean_text deletes (rather than turning into a space)."""
    return (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r") or ch in "\ufffe\uffff"


@pytest.mark.parametrize("raw", ["Bla\x00\u030abær", "sma\x85\u030a skridt", "ve\x1f\u0301n"])
def test_clean_text_is_nfc_even_around_control_characters(raw: str) -> None:
    text = clean_text(raw)
    assert text is not None
    assert unicodedata.is_normalized("NFC", text)
    assert clean_text(text) == text


# --- build_item ---------------------------------------------------------------------------------


def test_build_item_shapes_a_full_record() -> None:
    item = build_item(
        record(
            title="  Klimaborgerting \u2013 tendenser\n ",
            link="/klimaborgerting-tendenser/",
            summary="I denne rapport\u00a0opsummerer KNOCA …",
            category=" Demokrati ",
            date="04 | 2024",
        ),
        page_url=PAGE,
        language="da",
    )
    assert item == ExtractedItem(
        key="https://centerforborgerdialog.dk/klimaborgerting-tendenser",
        url="https://centerforborgerdialog.dk/klimaborgerting-tendenser/",
        title="Klimaborgerting – tendenser",
        summary="I denne rapport opsummerer KNOCA …",
        category="Demokrati",
        date=PartialDate(dt.date(2024, 4, 1), Precision.MONTH),
        language="da",
    )
    assert str(item.date) == "2024-04"


def test_build_item_title_and_link_suffice() -> None:
    item = build_item(record(title="Alene", link="https://vive.dk/x"), page_url=PAGE, language=None)
    assert item is not None
    assert (item.summary, item.category, item.date, item.language) == (None, None, None, None)


@pytest.mark.parametrize(
    "fields",
    [
        {"link": "/a/"},  # no title field at all
        {"title": None, "link": "/a/"},
        {"title": "", "link": "/a/"},
        {"title": " \n\u00a0 ", "link": "/a/"},
        {"title": "\x00\x01", "link": "/a/"},
        {"title": "Titel"},  # no link field at all
        {"title": "Titel", "link": None},
        {"title": "Titel", "link": ""},
        {"title": "Titel", "link": "   "},
        {"title": "Titel", "link": "#"},
        {"title": "Titel", "link": "javascript:void(0)"},
        {"title": "Titel", "link": "mailto:info@centerforborgerdialog.dk"},
        {"title": "Titel", "link": "data:text/html,hi"},
    ],
)
def test_build_item_skips_records_without_title_or_usable_link(fields: dict[str, str]) -> None:
    assert build_item(RawRecord(fields), page_url=PAGE, language="da") is None


@pytest.mark.parametrize(
    ("link", "url"),
    [
        ("/a/", "https://centerforborgerdialog.dk/a/"),
        ("b/", "https://centerforborgerdialog.dk/category/inspiration-praksis/page/2/b/"),
        ("../../x", "https://centerforborgerdialog.dk/category/inspiration-praksis/x"),
        ("//knoca.eu/y", "https://knoca.eu/y"),
        ("  https://vive.dk/z/ ", "https://vive.dk/z/"),
    ],
)
def test_build_item_makes_relative_links_absolute(link: str, url: str) -> None:
    item = build_item(record(title="T", link=link), page_url=PAGE, language="da")
    assert item is not None
    assert item.url == url


def test_item_key_is_canonical_but_url_is_the_link_as_given() -> None:
    link = "/Demokratiser-Byudviklingen/?utm_source=nyhedsbrev&utm_medium=email&p=7#respond"
    item = build_item(record(title="T", link=link), page_url=PAGE, language="da")
    assert item is not None
    assert item.url == "https://centerforborgerdialog.dk" + link
    assert item.key == "https://centerforborgerdialog.dk/Demokratiser-Byudviklingen?p=7"


def test_the_same_item_linked_differently_has_one_key() -> None:
    links = [
        "https://centerforborgerdialog.dk/a/",
        "/a",
        "/a/?fbclid=IwAR",
        "HTTPS://CenterForBorgerdialog.dk:443/a/#top",
        "../../../../a/?utm_campaign=x",
    ]
    keys = set()
    for link in links:
        item = build_item(record(title="T", link=link), page_url=PAGE, language="da")
        assert item is not None
        keys.add(item.key)
    assert keys == {"https://centerforborgerdialog.dk/a"}


def test_build_item_uses_a_custom_identity() -> None:
    item = build_item(
        record(title="T", link="/a/?id=5"),
        page_url=PAGE,
        language="da",
        identity=lambda url: "id:" + url.rsplit("=", 1)[1],
    )
    assert item is not None
    assert item.key == "id:5"


@pytest.mark.parametrize(
    ("raw", "language", "expected", "precision"),
    [
        ("04 | 2024", "da", "2024-04", Precision.MONTH),
        ("\n  04\u00a0|\u00a02024 \n", "da", "2024-04", Precision.MONTH),
        ("3. marts 2024", "da", "2024-03-03", Precision.DAY),
        ("Publiceret: 9. april 2024", "da", "2024-04-09", Precision.DAY),
        ("2024-04-09T10:00:00+02:00", None, "2024-04-09", Precision.DAY),
        ("april 2025", "da", "2025-04", Precision.MONTH),
        ("mars 2024", "sv", "2024-03", Precision.MONTH),
        ("2023", "en", "2023", Precision.YEAR),
    ],
)
def test_build_item_parses_dates_with_precision(
    raw: str, language: str | None, expected: str, precision: Precision
) -> None:
    item = build_item(record(title="T", link="/a/", date=raw), page_url=PAGE, language=language)
    assert item is not None
    assert item.date is not None
    assert str(item.date) == expected
    assert item.date.precision is precision


@pytest.mark.parametrize("raw", [None, "", "ingen dato", "31 | 2024", "31. februar 2024"])
def test_build_item_keeps_an_unreadable_date_as_none(raw: str | None) -> None:
    item = build_item(record(title="T", link="/a/", date=raw), page_url=PAGE, language="da")
    assert item is not None
    assert item.date is None


def test_build_item_limits_field_lengths() -> None:
    item = build_item(
        record(title="t" * 1000, link="/a/", summary="s " * 5000, category="c" * 300),
        page_url=PAGE,
        language="da",
    )
    assert item is not None
    assert len(item.title) == MAX_FIELD_CHARS["title"]
    assert item.title.endswith("…")
    assert item.summary is not None
    assert len(item.summary) <= MAX_FIELD_CHARS["summary"]
    assert item.summary.endswith("…")
    assert item.category is not None
    assert len(item.category) == MAX_FIELD_CHARS["category"]


def test_build_item_cleans_every_text_field() -> None:
    item = build_item(
        record(
            title="Sma\u030a\x00 skridt",
            link="/a/",
            summary=" en\u00a0\u00a0 kort\x85tekst ",
            category="\tMetoder\n",
        ),
        page_url=PAGE,
        language="da",
    )
    assert item is not None
    assert (item.title, item.summary, item.category) == ("Små skridt", "en korttekst", "Metoder")


# --- build_items --------------------------------------------------------------------------------


def test_build_items_counts_what_it_skips() -> None:
    records = [
        record(title="Første", link="/1/"),
        record(title=None, link="/2/"),
        record(title="Tredje", link="javascript:void(0)"),
        record(title="Fjerde", link="/4/?utm_source=x"),
        record(title="  ", link="/5/"),
        record(title="Sjette", link=None),
    ]
    result = build_items(records, page_url=PAGE, language="da")
    assert result.skipped == 4
    assert [item.title for item in result.items] == ["Første", "Fjerde"]
    assert [item.key for item in result.items] == [
        "https://centerforborgerdialog.dk/1",
        "https://centerforborgerdialog.dk/4",
    ]
    assert all(item.language == "da" for item in result.items)


def test_build_items_of_nothing() -> None:
    result = build_items([], page_url=PAGE, language=None)
    assert result.items == ()
    assert result.skipped == 0


def test_build_items_keeps_page_order_and_duplicates() -> None:
    # Deduplication is a later stage's decision; this one reports what the page shows.
    records = [record(title=t, link=link) for t, link in [("B", "/b/"), ("A", "/a/"), ("B2", "/b")]]
    result = build_items(records, page_url=PAGE, language="da")
    assert [item.title for item in result.items] == ["B", "A", "B2"]
    assert result.items[0].key == result.items[2].key


def test_items_share_one_string_per_category_and_one_object_per_date() -> None:
    # Built fresh each time, as a parser hands them over: equal, but not the same object.
    def fields(n: int) -> dict[str, str | None]:
        return {
            "title": f"Rapport {n}",
            "link": f"/r/{n}",
            "category": "".join(["Borger", "panel "]),
            "date": "".join(["3. marts ", "2024"]),
        }

    built = build_items([record(**fields(n)) for n in range(3)], page_url=PAGE, language="da")

    first, *others = built.items
    assert first.category == "Borgerpanel"
    assert first.date == PartialDate(dt.date(2024, 3, 3), Precision.DAY)
    assert all(item.category is first.category for item in others)
    assert all(item.date is first.date for item in others)
