"""Atom feeds as editors' readers see them: read back with feedparser, checked against RFC 4287."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds import FeedEntry, FeedMeta, build_atom, entry_id_for, tag_uri
from radar.items import PartialDate, Precision

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
AUTHORITY = "radar.example.dk"
FIRST_SEEN = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
FORBIDDEN_RANGES = ((0x00, 0x1F), (0x7F, 0x9F), (0xD800, 0xDFFF), (0xFFFE, 0xFFFF))
HOSTILE = '<script>alert(1)</script> Tom & Jerry\'s "fest"\x00\x08 slut'
HOSTILE_CLEAN = '<script>alert(1)</script> Tom & Jerry\'s "fest" slut'


def make_meta(**changes: Any) -> FeedMeta:
    meta = FeedMeta(
        feed_id=tag_uri(authority=AUTHORITY, year=2026, specific="feed:all"),
        title="Inspiration Radar: nyt",
        subtitle="Nye ting fra de sider, redaktionen følger",
        updated=datetime(2026, 3, 11, 6, 0, tzinfo=UTC),
        alternate_url="https://radar.example.dk/",
    )
    return dataclasses.replace(meta, **changes)


def make_entry(key: str = "https://cfb.dk/nyheder/1", **changes: Any) -> FeedEntry:
    entry = FeedEntry(
        entry_id=entry_id_for(authority=AUTHORITY, source_name="cfb", item_key=key),
        title="Borgerting om klima",
        link=key,
        summary="Et borgerting samler 40 borgere.",
        source_name="cfb",
        source_title="Center for Borgerdialog",
        category="Nyheder",
        language="da",
        published=PartialDate(date(2026, 3, 9), Precision.DAY),
        first_seen=FIRST_SEEN,
        updated=FIRST_SEEN,
    )
    return dataclasses.replace(entry, **changes)


def parse(feed: bytes) -> Any:
    parsed = feedparser.parse(feed)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def xml_entries(feed: bytes) -> list[ET.Element]:
    return ET.fromstring(feed).findall(f"{ATOM}entry")


def tags_by_scheme(entry: Any) -> dict[str | None, list[tuple[str, str | None]]]:
    found: dict[str | None, list[tuple[str, str | None]]] = {}
    for tag in entry.tags:
        found.setdefault(tag.scheme, []).append((tag.term, tag.label))
    return found


def test_feed_has_the_elements_rfc_4287_requires() -> None:
    feed = build_atom(make_meta(), [make_entry()])
    parsed = parse(feed)

    assert parsed.version == "atom10"
    assert parsed.feed.id == "tag:radar.example.dk,2026:feed:all"
    assert parsed.feed.title == "Inspiration Radar: nyt"
    assert parsed.feed.subtitle == "Nye ting fra de sider, redaktionen følger"
    assert parsed.feed.updated_parsed[:6] == (2026, 3, 11, 6, 0, 0)
    assert parsed.feed.author == "Inspiration Radar"
    assert parsed.feed.generator == "Inspiration Radar"
    assert parsed.feed.language == "da"
    assert [(link.rel, link.href) for link in parsed.feed.links] == [
        ("alternate", "https://radar.example.dk/")
    ]
    [entry] = parsed.entries
    assert entry.id == entry_id_for(
        authority=AUTHORITY, source_name="cfb", item_key="https://cfb.dk/nyheder/1"
    )
    assert entry.title == "Borgerting om klima"
    assert entry.updated_parsed[:6] == (2026, 3, 10, 8, 30, 0)
    assert entry.author == "Center for Borgerdialog"
    assert [(link.rel, link.href) for link in entry.links] == [
        ("alternate", "https://cfb.dk/nyheder/1")
    ]
    assert entry.summary == "Et borgerting samler 40 borgere."
    assert entry.summary_detail.type == "text/plain"


def test_entry_attributes_feedgen_cannot_set_are_in_the_xml() -> None:
    [entry] = xml_entries(build_atom(make_meta(), [make_entry()]))

    assert entry.find(f"{ATOM}title").get("type") == "text"  # type: ignore[union-attr]
    assert entry.find(f"{ATOM}link").get("rel") == "alternate"  # type: ignore[union-attr]


def test_categories_name_the_category_the_source_and_the_date_precision() -> None:
    [entry] = parse(build_atom(make_meta(), [make_entry()])).entries

    assert tags_by_scheme(entry) == {
        None: [("Nyheder", "Nyheder")],
        "urn:inspiration-radar:source": [("cfb", "Center for Borgerdialog")],
        "urn:inspiration-radar:date-precision": [("day", "Dato: dag")],
    }


def test_an_empty_feed_is_still_valid() -> None:
    parsed = parse(build_atom(make_meta(subtitle=None, alternate_url=None), []))

    assert parsed.entries == []
    assert parsed.feed.id and parsed.feed.title and parsed.feed.updated
    assert "subtitle" not in parsed.feed


def test_hostile_text_from_the_web_stays_text() -> None:
    hostile = make_entry(
        title=HOSTILE, summary=HOSTILE, category="<b>fed</b> & \x01", source_title="A & <B>"
    )
    feed = build_atom(make_meta(), [hostile])
    [entry] = parse(feed).entries

    assert b"<script" not in feed
    assert b"&lt;script&gt;" in feed
    assert b"<b>" not in feed
    assert entry.title == HOSTILE_CLEAN
    assert entry.title_detail.type == "text/plain"
    assert entry.summary == HOSTILE_CLEAN
    assert entry.author == "A & <B>"
    assert tags_by_scheme(entry)[None] == [("<b>fed</b> &", "<b>fed</b> &")]


@pytest.mark.parametrize(
    "char", ["\x00", "\x08", "\x1f", "\x7f", "\x80", "\x9f", "\ud800", "\ufffe"]
)
def test_characters_a_feed_cannot_carry_faithfully_are_dropped(char: str) -> None:
    feed = build_atom(make_meta(), [make_entry(title=f"før{char}efter")])

    assert parse(feed).entries[0].title == "førefter"


def test_a_title_with_nothing_left_after_cleaning_gets_a_placeholder() -> None:
    [entry] = parse(build_atom(make_meta(), [make_entry(title=" \x00\x08 ")])).entries

    assert entry.title == "(uden titel)"


def test_entries_are_newest_first_ties_in_given_order_and_capped() -> None:
    def seen(key: str, hours: int) -> FeedEntry:
        return make_entry(key, first_seen=FIRST_SEEN + timedelta(hours=hours))

    entries = [seen("https://a.dk/1", 1), seen("https://a.dk/2", 3), seen("https://a.dk/3", 2)]
    tied = [seen("https://a.dk/4", 3), seen("https://a.dk/5", 3)]
    expected_top = [entry.entry_id for entry in [entries[1], *tied]]

    parsed = parse(build_atom(make_meta(), [*entries, *tied], max_entries=4))

    assert [entry.id for entry in parsed.entries] == [*expected_top, entries[2].entry_id]


def test_the_feed_depends_on_the_data_only_not_on_the_time_it_is_built() -> None:
    entries = [make_entry(f"https://a.dk/{n}") for n in range(5)]

    assert build_atom(make_meta(), entries) == build_atom(make_meta(), entries)


def test_max_entries_zero_gives_an_empty_feed_and_negative_is_refused() -> None:
    assert parse(build_atom(make_meta(), [make_entry()], max_entries=0)).entries == []
    with pytest.raises(ValueError, match="max_entries"):
        build_atom(make_meta(), [make_entry()], max_entries=-1)


def test_entry_id_is_stable_and_never_depends_on_today() -> None:
    made = entry_id_for(authority=AUTHORITY, source_name="cfb", item_key="https://cfb.dk/nyheder/1")

    # A literal: if this changes, every editor sees every item again.
    assert made == "tag:radar.example.dk,2026:item:cfb:9184a1b35eba37b77fc8c561"
    assert made == entry_id_for(
        authority=AUTHORITY, source_name="cfb", item_key="https://cfb.dk/nyheder/1"
    )


def test_entry_id_differs_per_key_and_per_source() -> None:
    ids = {
        entry_id_for(authority=AUTHORITY, source_name=source, item_key=key)
        for source in ("cfb", "dreamteam")
        for key in ("https://x.dk/1", "https://x.dk/2")
    }

    assert len(ids) == 4


@pytest.mark.parametrize(("source_name", "item_key"), [("", "k"), ("cfb", "")])
def test_entry_id_needs_a_source_and_a_key(source_name: str, item_key: str) -> None:
    with pytest.raises(ValueError, match="source name and an item key"):
        entry_id_for(authority=AUTHORITY, source_name=source_name, item_key=item_key)


def test_tag_uri_follows_rfc_4151_and_encodes_the_specific_part() -> None:
    assert tag_uri(authority="Radar.Example.DK", year=2026, specific="feed:all") == (
        "tag:radar.example.dk,2026:feed:all"
    )
    assert tag_uri(authority="x.dk", year=987, specific="a b%/æ?<>") == (
        "tag:x.dk,0987:a%20b%25/%C3%A6?%3C%3E"
    )
    assert tag_uri(authority="x.dk", year=2026, specific="-._~!$&'()*+,;=:@/?") == (
        "tag:x.dk,2026:-._~!$&'()*+,;=:@/?"
    )


@pytest.mark.parametrize(
    "authority",
    ["", "-x.dk", "x-.dk", "x..dk", ".x.dk", "x.dk.", "ex ample.dk", "x.dk/", "æble.dk",
     "\u212aommune.dk", "a@b.dk", "x" * 64 + ".dk", ("a" * 60 + ".") * 5 + "dk"],
)  # fmt: skip
def test_tag_uri_refuses_authorities_that_are_not_dns_names(authority: str) -> None:
    with pytest.raises(ValueError, match="DNS name"):
        tag_uri(authority=authority, year=2026, specific="x")


@pytest.mark.parametrize("year", [-1, 10000])
def test_tag_uri_refuses_years_that_are_not_four_digits(year: int) -> None:
    with pytest.raises(ValueError, match="four digits"):
        tag_uri(authority="x.dk", year=year, specific="x")


@pytest.mark.parametrize(
    ("published", "expected", "term"),
    [
        (PartialDate(date(2024, 4, 15), Precision.DAY), (2024, 4, 15, 0, 0, 0), "day"),
        (PartialDate(date(2024, 4, 1), Precision.MONTH), (2024, 4, 1, 0, 0, 0), "month"),
        (PartialDate(date(2024, 4, 15), Precision.MONTH), (2024, 4, 1, 0, 0, 0), "month"),
        (PartialDate(date(2024, 1, 1), Precision.YEAR), (2024, 1, 1, 0, 0, 0), "year"),
        (None, (2026, 3, 10, 8, 30, 0), "first-seen"),
    ],
)
def test_published_is_the_items_own_date_at_its_precision(
    published: PartialDate | None, expected: tuple[int, ...], term: str
) -> None:
    [entry] = parse(build_atom(make_meta(), [make_entry(published=published)])).entries

    assert entry.published_parsed[:6] == expected
    assert [t for t, _ in tags_by_scheme(entry)["urn:inspiration-radar:date-precision"]] == [term]


def test_datetimes_in_other_zones_are_written_in_utc() -> None:
    copenhagen = timezone(timedelta(hours=1))
    local = datetime(2026, 3, 10, 9, 30, tzinfo=copenhagen)
    feed = build_atom(make_meta(), [make_entry(first_seen=local, updated=local, published=None)])

    [entry] = xml_entries(feed)
    assert entry.findtext(f"{ATOM}updated") == "2026-03-10T08:30:00+00:00"
    assert entry.findtext(f"{ATOM}published") == "2026-03-10T08:30:00+00:00"


def test_each_entry_carries_its_own_language() -> None:
    entries = [
        make_entry("https://a.dk/sv", language="sv", first_seen=FIRST_SEEN + timedelta(hours=2)),
        make_entry("https://a.dk/en", language="en", first_seen=FIRST_SEEN + timedelta(hours=1)),
        make_entry("https://a.dk/ukendt", language=None),
    ]
    feed = build_atom(make_meta(), entries)

    assert ET.fromstring(feed).get(XML_LANG) == "da"
    assert [entry.get(XML_LANG) for entry in xml_entries(feed)] == ["sv", "en", None]
    # No xml:lang of its own means the entry is read in the feed's language.
    languages = [entry.title_detail.language for entry in parse(feed).entries]
    assert languages == ["sv", "en", "da"]


def test_a_changed_title_updates_the_entry_in_place() -> None:
    before = make_entry()
    after = dataclasses.replace(
        before, title="Borgerting om klima – nu med dato", updated=FIRST_SEEN + timedelta(days=1)
    )

    first = parse(build_atom(make_meta(), [before])).entries
    second = parse(build_atom(make_meta(), [after])).entries

    assert [entry.id for entry in second] == [entry.id for entry in first]
    assert second[0].title == "Borgerting om klima – nu med dato"
    assert second[0].updated_parsed[:3] == (2026, 3, 11)
    assert second[0].published == first[0].published


def test_one_entry_id_twice_is_refused() -> None:
    entry = make_entry()

    with pytest.raises(ValueError, match="duplicate entry id"):
        build_atom(make_meta(), [entry, dataclasses.replace(entry, title="Ny titel")])


def test_self_link_is_written_only_when_configured() -> None:
    with_self = parse(build_atom(make_meta(self_url="https://radar.example.dk/feed.xml"), []))
    without = parse(build_atom(make_meta(), []))

    assert ("self", "https://radar.example.dk/feed.xml") in [
        (link.rel, link.href) for link in with_self.feed.links
    ]
    assert "self" not in [link.rel for link in without.feed.links]


@pytest.mark.parametrize(
    "changes",
    [
        {"link": "javascript:alert(1)"},
        {"link": "/relative/path"},
        {"first_seen": datetime(2026, 3, 10, 8, 30)},
        {"updated": datetime(2026, 3, 10, 8, 30)},
        {"language": "dansk sprog"},
    ],
)
def test_entries_refuse_data_that_would_mislead_a_reader(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_entry(**changes)


@pytest.mark.parametrize(
    "changes",
    [{"updated": datetime(2026, 3, 11)}, {"self_url": "ftp://x.dk/feed"}, {"language": ""}],
)
def test_feed_meta_refuses_invalid_settings(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_meta(**changes)


def expected_text(text: str) -> str:
    """The text as a reader should show it: trimmed, without the characters feeds cannot carry."""
    return "".join(ch for ch in text if ch in "\t\n\r" or not is_forbidden(ord(ch))).strip()


def is_forbidden(code: int) -> bool:
    """C0 and C1 controls, surrogates, and the non-characters U+FFFE and U+FFFF."""
    return any(low <= code <= high for low, high in FORBIDDEN_RANGES)


# Surrogates too: st.text() leaves them out by default, and lxml cannot encode them.
ANY_TEXT = st.text(st.characters(exclude_categories=()))


@given(
    title=ANY_TEXT,
    summary=st.none() | ANY_TEXT,
    category=st.none() | ANY_TEXT,
    source_title=ANY_TEXT,
)
def test_any_text_yields_a_feed_readers_accept(
    title: str, summary: str | None, category: str | None, source_title: str
) -> None:
    entry = make_entry(title=title, summary=summary, category=category, source_title=source_title)

    feed = build_atom(make_meta(), [entry])

    assert [parsed.id for parsed in parse(feed).entries] == [entry.entry_id]
    # The exact text is checked with a strict XML parser: feedparser "repairs" text that
    # looks like mojibake ("Ã¦" becomes "æ"), which is its heuristic, not our output.
    [written] = xml_entries(feed)
    assert written.findtext(f"{ATOM}title") == (expected_text(title) or "(uden titel)")
    assert written.findtext(f"{ATOM}summary") == (expected_text(summary or "") or None)
