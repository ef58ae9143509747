"""scraper.dates: every documented format, the None cases, and round-trip properties."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radar.items import PartialDate, Precision
from scraper.dates import parse_date

DAY, MONTH, YEAR = Precision.DAY, Precision.MONTH, Precision.YEAR

# Spelled out here rather than imported, so the tests check the parser against the languages.
DANISH = (
    "januar", "februar", "marts", "april", "maj", "juni",
    "juli", "august", "september", "oktober", "november", "december",
)  # fmt: skip
SWEDISH = (
    "januari", "februari", "mars", "april", "maj", "juni",
    "juli", "augusti", "september", "oktober", "november", "december",
)  # fmt: skip
ENGLISH = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "language", "expected", "precision"),
    [
        # ISO dates and datetimes: the date part as written, whatever the offset.
        ("2024-04-09", None, "2024-04-09", DAY),
        ("Opdateret 2024-04-09 kl. 10", "da", "2024-04-09", DAY),
        ("2024-04-09T10:00:00Z", None, "2024-04-09", DAY),
        ("2024-04-09T23:30:00+02:00", None, "2024-04-09", DAY),
        ("2024-04-09T00:30:00-05:00", None, "2024-04-09", DAY),
        # RFC 822, as in RSS pubDate.
        ("Tue, 09 Apr 2024 10:00:00 GMT", None, "2024-04-09", DAY),
        ("Tue, 09 Apr 2024 10:00:00 +0200", "en", "2024-04-09", DAY),
        # Day, month name, year.
        ("Publicerad 22 februari 2021", "sv", "2021-02-22", DAY),
        ("Udgivet 3. marts 2024", "da", "2024-03-03", DAY),
        ("12. december 2023", None, "2023-12-12", DAY),
        ("12. December 2023", "da", "2023-12-12", DAY),
        ("9 April 2024", "en", "2024-04-09", DAY),
        ("9th April 2024", "en", "2024-04-09", DAY),
        ("1st of May, 2024", "en", "2024-05-01", DAY),
        ("22 feb. 2021", "sv", "2021-02-22", DAY),
        ("3 okt 2023", "sv", "2023-10-03", DAY),
        ("3. okt. 2023", "da", "2023-10-03", DAY),
        ("15 augusti 2022", None, "2022-08-15", DAY),
        ("09-Apr-2024", None, "2024-04-09", DAY),
        ("den 1. JUNI 2020", "da", "2020-06-01", DAY),
        # Month name, day, year.
        ("April 9, 2024", "en", "2024-04-09", DAY),
        ("Published: Sept 30th, 2023", "en", "2023-09-30", DAY),
        ("Oct 2 2023", None, "2023-10-02", DAY),
        # Numeric, day first.
        ("09.04.2024", "da", "2024-04-09", DAY),
        ("9/4/2024", None, "2024-04-09", DAY),
        ("9-4-2024", "sv", "2024-04-09", DAY),
        ("Dato: 31.12.2023", "da", "2023-12-31", DAY),
        ("9/4/2024", "en", "2024-04-09", DAY),  # British: 9 April, not September 4
        ("9/4/2024", "en-GB", "2024-04-09", DAY),
        # Month precision.
        ("April 2025", "en", "2025-04-01", MONTH),
        ("Sept 2023", "en", "2023-09-01", MONTH),
        ("maj 2024", "da", "2024-05-01", MONTH),
        ("Maj 2024", "sv", "2024-05-01", MONTH),
        ("marts 2024", None, "2024-03-01", MONTH),
        ("mars 2024", "sv", "2024-03-01", MONTH),
        ("mars 2024", None, "2024-03-01", MONTH),
        ("Dec. 2022", None, "2022-12-01", MONTH),
        ("04 | 2024", "da", "2024-04-01", MONTH),
        ("Arkiv 11|2023", None, "2023-11-01", MONTH),
        ("2024-04", None, "2024-04-01", MONTH),
        # Year precision only when the text is nothing but a year.
        ("2023", None, "2023-01-01", YEAR),
        ("  2023\n", "da", "2023-01-01", YEAR),
    ],
)
def test_parses_supported_formats(
    text: str, language: str | None, expected: str, precision: Precision
) -> None:
    assert parse_date(text, language=language) == PartialDate(
        dt.date.fromisoformat(expected), precision
    )


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (None, None),
        ("", None),
        ("   ", "da"),
        ("ingen dato her", "da"),
        ("lorem ipsum 12 34", None),
        ("Rapport 2023", None),  # a year inside text may be a title, not a date
        ("Strategi 2023-26", "da"),  # a span of years, not a month
        ("31 februari 2021", "sv"),  # impossible; must not fall back to "februari 2021"
        ("30. februar 2024", "da"),
        ("2024-02-30", None),
        ("2023-02-29T10:00:00Z", None),
        ("32.01.2024", "da"),
        ("9.13.2024", None),
        ("13 | 2024", None),
        ("00 | 2024", None),
        ("0000", None),
        ("Mission to Mars 2024", "en"),  # the planet, not Swedish March
        ("Mars 2024", "da"),  # Danish March is "marts"
        ("9/4/2024", "de"),  # order not known for other languages
        ("mayonnaise 2024", "en"),
        ("Apr. 31, 2024", "en"),
    ],
)
def test_returns_none_without_a_real_date(text: str | None, language: str | None) -> None:
    assert parse_date(text, language=language) is None


def test_first_date_in_text_wins() -> None:
    result = parse_date("Udgivet 3. marts 2024, opdateret 5. april 2024", language="da")
    assert result == PartialDate(dt.date(2024, 3, 3), DAY)


def test_day_precision_beats_month_precision_elsewhere_in_text() -> None:
    result = parse_date("Nyhedsbrev april 2024 – udsendt 9. april 2024")
    assert result == PartialDate(dt.date(2024, 4, 9), DAY)


def _cased(name: str, capital: bool) -> str:
    return name.capitalize() if capital else name.lower()


@given(d=st.dates())
def test_iso_round_trip(d: dt.date) -> None:
    assert parse_date(d.isoformat()) == PartialDate(d, DAY)


@given(d=st.dates(), capital=st.booleans(), language=st.sampled_from([None, "da"]))
def test_danish_round_trip(d: dt.date, capital: bool, language: str | None) -> None:
    text = f"{d.day}. {_cased(DANISH[d.month - 1], capital)} {d.year:04d}"
    assert parse_date(text, language=language) == PartialDate(d, DAY)


@given(d=st.dates(), capital=st.booleans(), language=st.sampled_from([None, "sv"]))
def test_swedish_round_trip(d: dt.date, capital: bool, language: str | None) -> None:
    text = f"{d.day} {_cased(SWEDISH[d.month - 1], capital)} {d.year:04d}"
    assert parse_date(text, language=language) == PartialDate(d, DAY)


@given(d=st.dates(), language=st.sampled_from([None, "en"]))
def test_english_round_trip(d: dt.date, language: str | None) -> None:
    text = f"{ENGLISH[d.month - 1]} {d.day}, {d.year:04d}"
    assert parse_date(text, language=language) == PartialDate(d, DAY)


@given(d=st.dates(), hour=st.integers(0, 23), use_gmt=st.booleans())
def test_rfc822_round_trip(d: dt.date, hour: int, use_gmt: bool) -> None:
    moment = dt.datetime.combine(d, dt.time(hour), tzinfo=dt.UTC)
    assert parse_date(format_datetime(moment, usegmt=use_gmt)) == PartialDate(d, DAY)


@given(d=st.dates())
def test_cfb_archive_month_round_trip(d: dt.date) -> None:
    assert parse_date(f"{d.month:02d} | {d.year:04d}") == PartialDate(d.replace(day=1), MONTH)


@given(d=st.dates(), names=st.sampled_from([DANISH, SWEDISH, ENGLISH]))
def test_month_name_and_year_round_trip(d: dt.date, names: tuple[str, ...]) -> None:
    text = f"{names[d.month - 1]} {d.year:04d}"
    assert parse_date(text) == PartialDate(d.replace(day=1), MONTH)


@given(text=st.text(), language=st.sampled_from([None, "", "da", "sv", "en", "en-GB", "de"]))
def test_never_raises(text: str, language: str | None) -> None:
    result = parse_date(text, language=language)
    assert result is None or isinstance(result, PartialDate)


@given(text=st.text(alphabet="0123456789 .-/|:,TZ+aprmjs"))
def test_never_raises_on_date_like_noise(text: str) -> None:
    result = parse_date(text)
    assert result is None or isinstance(result, PartialDate)
