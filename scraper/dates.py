"""Find a date in Danish, Swedish or English text and say how precise it is.

Formats, tried in this order (the first format that matches anywhere in the text decides):

    2024-04-09, 2024-04-09T10:00:00+02:00, 2024-4-9      ISO date or datetime          day
    3. marts 2024, 22 feb. 2021, 9th of April 2024,     day, month name, year         day
      Tue, 09 Apr 2024 10:00:00 GMT (RFC 822), 09-Apr-2024
    April 9, 2024, Apr 9th 2024                          month name, day, year         day
    09.04.2024, 9/4/2024, 9-4-2024                       numeric, always day first     day
    2024-04                                              ISO year-month                month
    April 2025, Sept 2023, maj 2024                      month name, year              month
    04 | 2024                                            CfB archive: MM | YYYY        month
    2023 (the whole text and nothing else)               bare year                     year

Month names are full or abbreviated (optionally with a period) in any of the three languages and
in any case. Month precision is stored as the 1st of the month and year precision as 1 January,
as radar.items.PartialDate expects. The system locale is never consulted.

`language` (a tag such as "da", "sv-SE" or "en-GB") only narrows what is ambiguous:
- "mars" is Swedish for March but the planet in Danish and English, so it is a month only when
  the language is Swedish or unknown.
- Numeric dates are read day first for da, sv, en and an unknown language. English is read day
  first too (British usage: 9/4/2024 is 9 April), because the English-language sources we follow
  are European. For any other language a numeric date is not guessed at.

A match that names an impossible date ("31 februari 2021", "2024-02-30") gives None rather than
falling back to a vaguer format, which would silently invent a different date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

from radar.items import PartialDate, Precision

_FULL_MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "da": (
        "januar",
        "februar",
        "marts",
        "april",
        "maj",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "sv": (
        "januari",
        "februari",
        "mars",
        "april",
        "maj",
        "juni",
        "juli",
        "augusti",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "en": (
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ),
}

_ABBREVIATIONS: dict[str, int] = {
    "jan": 1,
    "feb": 2,
    "febr": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "okt": 10,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}

_MONTHS: dict[str, int] = {
    **_ABBREVIATIONS,
    **{
        name: number
        for names in _FULL_MONTH_NAMES.values()
        for number, name in enumerate(names, start=1)
    },
}

# Words that are month names in one language but ordinary words in the declared language.
_NOT_A_MONTH_IN: dict[str, frozenset[str]] = {
    "da": frozenset({"mars"}),
    "en": frozenset({"mars"}),
}

# Languages whose numeric dates we read day first; None (unknown) is allowed too.
_DAY_FIRST_LANGUAGES = frozenset({"da", "sv", "en"})

# Building blocks. Text is casefolded before matching, so the patterns are lowercase and need no
# IGNORECASE (which would let e.g. the Kelvin sign match "k"). [0-9] rather than \d keeps
# non-ASCII digits out. "Not a letter" is spelled [^\W\d_].
_NAME_ALTERNATION = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MON = rf"(?<![^\W\d_])(?P<mon>{_NAME_ALTERNATION})(?![^\W\d_])\.?"
_DAY_NUMBER = r"(?<![0-9])(?P<day>[0-9]{1,2})(?![0-9])"
_DAY = _DAY_NUMBER + r"(?:st|nd|rd|th|\.)?"  # 9th, and the Danish "3."
_YEAR = r"(?P<year>[0-9]{4})(?![0-9])"
_SEP = r"(?:\s*-\s*|,?\s*)"


@dataclass(frozen=True, slots=True)
class _Format:
    """One recognised shape; its named groups (year, month or mon, day) say what it gives."""

    pattern: re.Pattern[str]
    languages: frozenset[str] | None = None  # None: any language
    whole_text: bool = False  # the pattern must match all of the text, not just part of it

    def applies_to(self, language: str | None) -> bool:
        return self.languages is None or language is None or language in self.languages


_FORMATS: tuple[_Format, ...] = (
    _Format(re.compile(r"(?<![0-9])(?P<year>[0-9]{4})-(?P<month>[0-9]{1,2})-" + _DAY_NUMBER)),
    _Format(re.compile(_DAY + _SEP + r"(?:of\s+)?" + _MON + _SEP + _YEAR)),
    _Format(re.compile(_MON + r"\s*" + _DAY + _SEP + _YEAR)),
    _Format(
        re.compile(_DAY_NUMBER + r"(?P<sep>[./-])(?P<month>[0-9]{1,2})(?P=sep)" + _YEAR),
        languages=_DAY_FIRST_LANGUAGES,
    ),
    # Months limited to 01-12 so year ranges such as "Strategi 2023-26" are not read as dates.
    _Format(re.compile(r"(?<![0-9])(?P<year>[0-9]{4})-(?P<month>0[1-9]|1[0-2])(?![0-9])")),
    _Format(re.compile(_MON + _SEP + _YEAR)),
    _Format(re.compile(r"(?<![0-9])(?P<month>[0-9]{1,2})\s*\|\s*" + _YEAR)),
    _Format(re.compile(r"\s*(?P<year>[0-9]{4})\s*"), whole_text=True),
)


def parse_date(text: str | None, *, language: str | None = None) -> PartialDate | None:
    """The first date in `text` with its precision, or None if there is none or it is impossible.

    Never raises on odd input. `language` resolves ambiguity only; see the module docstring.
    """
    if not text:
        return None
    lang = _primary_language(language)
    folded = text.casefold()
    for fmt in _FORMATS:
        if not fmt.applies_to(lang):
            continue
        match = _first_match(fmt, folded, lang)
        if match is not None:
            return _to_partial_date(match)
    return None


def _primary_language(language: str | None) -> str | None:
    """ "sv-SE", "en_GB", "DA" -> "sv", "en", "da"; blank -> None (unknown)."""
    if not language or not language.strip():
        return None
    return re.split(r"[-_]", language.strip().casefold(), maxsplit=1)[0]


def _first_match(fmt: _Format, text: str, language: str | None) -> re.Match[str] | None:
    """The leftmost match of `fmt` whose month name, if any, is a month in `language`."""
    if fmt.whole_text:
        return fmt.pattern.fullmatch(text)
    excluded = _NOT_A_MONTH_IN.get(language or "", frozenset())
    for match in fmt.pattern.finditer(text):
        if match.groupdict().get("mon") not in excluded:
            return match
    return None


def _to_partial_date(match: re.Match[str]) -> PartialDate | None:
    """Turn a match's named groups into a PartialDate; None if the date does not exist."""
    groups = match.groupdict()
    day = groups.get("day")
    month = _month_number(groups)
    if day is not None:
        precision = Precision.DAY
    elif month is not None:
        precision = Precision.MONTH
    else:
        precision = Precision.YEAR
    return _partial_date(
        int(groups["year"]),
        month if month is not None else 1,
        int(day) if day is not None else 1,
        precision,
    )


@lru_cache(maxsize=4096)
def _partial_date(year: int, month: int, day: int, precision: Precision) -> PartialDate | None:
    """One shared (frozen) PartialDate per distinct date: a listing's items share few dates,
    and a 20,000-item crawl holds ~1.6 MB less. None if the date does not exist."""
    try:
        return PartialDate(dt.date(year, month, day), precision)
    except ValueError:
        return None


def _month_number(groups: dict[str, str | None]) -> int | None:
    if groups.get("mon") is not None:
        return _MONTHS[str(groups["mon"])]
    month = groups.get("month")
    return int(month) if month is not None else None
