"""The `feed` kind: RSS 2.0, Atom and RSS 1.0 through feedparser, hostile feeds, and the window.

Feeds are served over loopback by FixtureServer from tmp_path, and the modelled OECD RSS service
from tests/fixtures/sites (built by tests/fixtures/build_oecd.py).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from radar.config import parse_config
from radar.errors import ConfigError, ExtractError
from radar.fixture_server import FixtureServer
from radar.items import ExtractedItem, Precision
from radar.pipeline import run_sources
from scraper.adapters.feed import (
    MAX_CARRIED_TAIL,
    FeedSpec,
    keep_fallen_off,
    parse_feed,
    previous_keys,
)
from scraper.crawl import Crawl, PageMemo
from scraper.fetch import Fetcher
from scraper.response import FetchResult, Validators
from tests.conftest import EXPECTED, SITES, fast_crawler
from tests.test_json_adapter import OECD, config_with, crawl, events_of
from tests.test_sources import as_expected

HOST = "feeds.example.org"
BASE = f"https://{HOST}"


def write(root: Path, name: str, body: str | bytes, *, snapshot: str = "snapshot-1") -> str:
    """Serve `body` at /<name> (the suffix picks the Content-Type); return its URL."""
    path = root / snapshot / HOST / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return f"{BASE}/{name}"


def spec_of(url: str, **keys: Any) -> FeedSpec:
    return FeedSpec.model_validate({"name": "feed", "kind": "feed", "url": url, **keys})


def fields(item: ExtractedItem) -> tuple[str, str, str | None, str | None, str | None]:
    date = f"{item.date} {item.date.precision}" if item.date else None
    return item.title, item.url, item.summary, item.category, date


RSS2 = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Nyt</title><link>https://feeds.example.org/</link>
<description>Seneste</description>
<item>
  <title>Borgerting &amp; klima</title>
  <link>https://feeds.example.org/posts/1?utm_source=rss</link>
  <description>&lt;p&gt;Første &lt;b&gt;afsnit&lt;/b&gt;&lt;/p&gt;\
&lt;script&gt;alert(1)&lt;/script&gt;&lt;style&gt;p {}&lt;/style&gt;\
&lt;p&gt;Andet&amp;nbsp;afsnit &amp;amp; mere&lt;/p&gt;</description>
  <pubDate>Tue, 09 Apr 2024 23:30:00 -0500</pubDate>
  <guid isPermaLink="false">post-1</guid>
  <category domain="https://example.org/types">Rapport</category>
  <category>Demokrati</category>
</item>
<item>
  <title>Kun guid</title>
  <description><![CDATA[<ul><li>Et</li><li>To</li></ul>]]></description>
  <guid>https://feeds.example.org/posts/2</guid>
  <pubDate>Mon, 1 Apr 2024 08:00:00 GMT</pubDate>
</item>
<item>
  <title>Guid uden permalink og intet link</title>
  <guid isPermaLink="false">https://feeds.example.org/posts/3</guid>
</item>
<item>
  <title>  Kontrol\x01tegn   og\tmellemrum </title>
  <link>/posts/4</link>
  <pubDate>not a date</pubDate>
</item>
</channel></rss>
"""


async def test_rss2_items_are_mapped_and_their_html_rendered_as_text(tmp_path: Path) -> None:
    url = write(tmp_path, "feed.rss", RSS2.replace("\x01", "&#x7f;"))
    result, _ = await crawl(tmp_path, spec_of(url, language="da"))
    assert result.complete and result.notes == ()
    assert result.skipped == 1  # the guid that is not a permalink
    assert [fields(item) for item in result.items] == [
        (
            "Borgerting & klima",
            f"{BASE}/posts/1?utm_source=rss",
            "Første afsnit Andet afsnit & mere",
            "Rapport",
            "2024-04-09 day",  # the source's own calendar day, not UTC's
        ),
        ("Kun guid", f"{BASE}/posts/2", "Et To", None, "2024-04-01 day"),
        ("Kontroltegn og mellemrum", f"{BASE}/posts/4", None, None, None),
    ]
    assert result.items[0].key == f"{BASE}/posts/1"  # tracking parameters never identify


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Example</title><id>urn:example:feed</id><updated>2024-04-10T00:00:00Z</updated>
  <entry>
    <title type="html">Fish &amp;amp; &lt;em&gt;chips&lt;/em&gt;</title>
    <id>urn:uuid:0001</id>
    <link rel="enclosure" href="/files/a.pdf"/>
    <link rel="alternate" type="text/html" href="/posts/a"/>
    <updated>2024-04-09T10:00:00Z</updated>
    <published>2024-03-01T10:00:00+01:00</published>
    <category scheme="https://example.org/topics" term="democracy"/>
    <category scheme="https://example.org/types" term="report" label="Research report"/>
    <summary type="text">Plain &lt;not a tag&gt; text</summary>
  </entry>
  <entry>
    <title>Content only</title>
    <id>urn:uuid:0002</id>
    <link href="https://feeds.example.org/posts/b"/>
    <updated>2024-04</updated>
    <content type="xhtml">
      <div xmlns="http://www.w3.org/1999/xhtml"><p>Body <b>text</b></p></div>
    </content>
  </entry>
  <entry>
    <title>An id is no link</title>
    <id>urn:uuid:0003</id>
  </entry>
</feed>
"""


async def test_atom_entries_prefer_the_alternate_link_published_date_and_labels(
    tmp_path: Path,
) -> None:
    url = write(tmp_path, "feed.atom", ATOM)
    result, _ = await crawl(
        tmp_path, spec_of(url, category_from="scheme:https://example.org/types")
    )
    assert result.skipped == 1
    assert [fields(item) for item in result.items] == [
        (
            "Fish & chips",
            f"{BASE}/posts/a",
            "Plain <not a tag> text",
            "Research report",
            "2024-03-01 day",
        ),
        ("Content only", f"{BASE}/posts/b", "Body text", None, "2024-04 month"),
    ]


RSS1 = """<?xml version="1.0" encoding="iso-8859-1"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://feeds.example.org/feed.xml">
    <title>Udgivelser</title><link>https://feeds.example.org/</link><description>d</description>
  </channel>
  <item rdf:about="https://feeds.example.org/r/1">
    <title>Årets rapport om nærdemokrati</title>
    <link>https://feeds.example.org/r/1</link>
    <description>Om æ, ø og å.</description>
    <dc:date>2023</dc:date>
    <dc:subject>Metoder</dc:subject>
  </item>
</rdf:RDF>
"""


async def test_rss1_with_a_declared_legacy_encoding_and_a_year_only_date(tmp_path: Path) -> None:
    url = write(tmp_path, "feed.xml", RSS1.encode("iso-8859-1"))
    result, _ = await crawl(tmp_path, spec_of(url, language="da"))
    assert [fields(item) for item in result.items] == [
        ("Årets rapport om nærdemokrati", f"{BASE}/r/1", "Om æ, ø og å.", "Metoder", "2023 year")
    ]


@pytest.mark.parametrize(
    ("rule", "category"),
    [
        ("first", "democracy"),
        ("none", None),
        (None, None),
        ("scheme:https://example.org/types", "Research report"),
        ("scheme:https://example.org/unknown", None),
    ],
)
async def test_category_from_picks_the_category(
    tmp_path: Path, rule: str | None, category: str | None
) -> None:
    url = write(tmp_path, "feed.atom", ATOM)
    result, _ = await crawl(tmp_path, spec_of(url, category_from=rule))
    assert result.items[0].category == category


@pytest.mark.parametrize("rule", ["last", "scheme:", "Scheme:x", ""])
def test_an_unknown_category_rule_is_a_config_error(rule: str) -> None:
    source = f"  - {{name: f, kind: feed, url: '{BASE}/f.xml', category_from: '{rule}'}}\n"
    with pytest.raises(ConfigError, match=r"sources\[0\] \(f\)\.category_from: expected first"):
        parse_config(config_with(source))


def test_the_feed_keys_are_validated_like_every_other() -> None:
    source = f"  - {{name: f, kind: feed, url: '{BASE}/f.xml', max_items: 0, colour: red}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(config_with(source))
    assert "sources[0] (f).max_items: Input should be greater than or equal to 1" in str(
        caught.value
    )
    assert "sources[0] (f).colour: unknown key" in str(caught.value)


# ---------------------------------------------------------------------------------------------
# Broken and hostile feeds


async def test_a_feed_that_is_not_well_formed_but_has_entries_is_read_with_a_note(
    tmp_path: Path,
) -> None:
    body = RSS2.replace("<title>Nyt</title>", "<title>Nyt&nbsp;og&nbsp;godt</title>")
    url = write(tmp_path, "feed.rss", body.replace("\x01", ""))
    result, _ = await crawl(tmp_path, spec_of(url))
    assert result.complete and len(result.items) == 3
    [note] = result.notes
    assert note.startswith(f"{url}: not well-formed (") and "undefined entity" in note


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<rss version='2.0'><channel><title>Cut off</chan", "not a well-formed feed"),
        (b"<!DOCTYPE html><html><body><div><p>Log ind</body>", "not a well-formed feed"),
        (b"<html><body><p>Vedligeholdelse</p></body></html>", "not a feed"),
        (b"", "not a feed"),
        (b"\x00\xff" * 64, "not a well-formed feed"),
    ],
)
async def test_a_response_that_yields_nothing_and_is_no_feed_is_an_extract_error(
    tmp_path: Path, body: bytes, reason: str
) -> None:
    url = write(tmp_path, "feed.xml", body)
    result, _ = await crawl(tmp_path, spec_of(url))
    assert isinstance(result.error, ExtractError) and reason in str(result.error)
    assert (result.error.source, result.error.url) == ("feed", url)
    assert not result.complete and result.items == ()


async def test_a_valid_empty_feed_is_complete_and_empty(tmp_path: Path) -> None:
    url = write(
        tmp_path, "feed.rss", '<rss version="2.0"><channel><title>x</title></channel></rss>'
    )
    result, _ = await crawl(tmp_path, spec_of(url))
    assert result.complete and result.items == () and result.notes == ()


def fetched(body: bytes, content_type: str | None = "application/xml") -> FetchResult:
    return FetchResult(
        url=f"{BASE}/feed.xml",
        final_url=f"{BASE}/feed.xml",
        status=200,
        body=body,
        content_type=content_type,
        validators=Validators(),
        elapsed=0.0,
    )


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    "<rss version='2.0'>",
                    "<channel>",
                    "<item>",
                    "<title>",
                    "t",
                    "</title>",
                    "<link>",
                    "https://x.org/",
                    "</link>",
                    "</item>",
                    "&nbsp;",
                    "<![CDATA[<b>",
                    "]]>",
                    "<feed xmlns='http://www.w3.org/2005/Atom'>",
                    "<entry>",
                    "</entry>",
                    "<description>",
                    "&lt;script&gt;",
                    "</description>",
                    "<?xml?>",
                    "\x00",
                ]
            ),
            max_size=40,
        ).map(lambda parts: "".join(parts).encode()),
    ),
    st.sampled_from([None, "application/rss+xml", "text/html; charset=utf-8", "text/plain"]),
)
def test_any_bytes_give_entries_or_an_extract_error_never_a_crash(
    body: bytes, content_type: str | None
) -> None:
    try:
        parsed, _ = parse_feed(fetched(body, content_type), source="feed")
    except ExtractError:
        return
    assert isinstance(parsed.get("entries"), list)


# ---------------------------------------------------------------------------------------------
# Caps, paging and conditional requests


def rss(*entries: tuple[str, str], extra: str = "") -> str:
    items = "".join(
        f"<item><title>{title}</title><link>{BASE}/p/{slug}</link>"
        f"<description>Om {title}.</description><pubDate>Tue, 09 Apr 2024 10:00:00 GMT</pubDate>"
        "</item>"
        for slug, title in entries
    )
    return (
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>F</title>'
        f"{extra}{items}</channel></rss>"
    )


def numbered(*numbers: int, edited: int | None = None) -> str:
    return rss(*((str(n), f"Indlæg {n}{' (rettet)' if n == edited else ''}") for n in numbers))


async def test_max_items_caps_the_entries_read_and_says_so(tmp_path: Path) -> None:
    url = write(tmp_path, "feed.rss", numbered(5, 4, 3, 2, 1))
    result, _ = await crawl(tmp_path, spec_of(url, max_items=3, window=False))
    assert [item.title for item in result.items] == ["Indlæg 5", "Indlæg 4", "Indlæg 3"]
    assert result.notes == (f"{url}: read 3 of 5 entries",)


def paged(n: int, *, last: int) -> str:
    following = f'<atom:link rel="next" href="/feed.rss?page={n + 1}"/>' if n < last else ""
    return rss((str(n), f"Side {n}"), extra=following)


@pytest.mark.parametrize(
    ("max_pages", "titles", "complete"),
    [
        (1, ["Side 1"], True),  # one page: rel="next" is not followed
        (3, ["Side 1", "Side 2", "Side 3"], True),
        (2, ["Side 1", "Side 2"], False),  # stopped before the feed ended
    ],
)
async def test_rel_next_pages_are_followed_up_to_max_pages(
    tmp_path: Path, max_pages: int, titles: list[str], complete: bool
) -> None:
    url = write(tmp_path, "feed.rss", paged(1, last=3))
    for n in (2, 3):
        write(tmp_path, f"feed.rss?page={n}", paged(n, last=3))
    result, _ = await crawl(tmp_path, spec_of(url, max_pages=max_pages))
    assert [item.title for item in result.items] == titles
    assert result.complete is complete and result.capped is not complete


async def test_an_unchanged_feed_is_answered_304_and_carried(tmp_path: Path) -> None:
    url = write(tmp_path, "feed.rss", numbered(3, 2, 1))
    first, _ = await crawl(tmp_path, spec_of(url))
    memos = {memo.url: memo for memo in first.memos}
    second, _ = await crawl(tmp_path, spec_of(url), memos=memos)
    assert second.all_not_modified and second.items == ()
    assert second.carried_keys == {item.key for item in first.items}


# ---------------------------------------------------------------------------------------------
# The window: entries sliding off the end of a feed are not removed


def item(key: str) -> ExtractedItem:
    return ExtractedItem(key=key, url=f"{BASE}/p/{key}", title=key)


def memo(url: str, keys: str, next_url: str | None = None) -> PageMemo:
    return PageMemo(url=url, validators=Validators(), item_keys=tuple(keys), next_url=next_url)


def crawled(keys: str, *, complete: bool = True, carried: str = "") -> Crawl:
    return Crawl(
        items=tuple(item(key) for key in keys),
        carried_keys=frozenset(carried),
        memos=(memo(f"{BASE}/f", keys),),
        pages_fetched=1,
        complete=complete,
    )


@pytest.mark.parametrize(
    ("previous", "now", "fallen"),
    [
        ("abcde", "xyabc", "de"),  # two new at the top push two off the end
        ("abcde", "xacde", ""),  # b went from inside the window: removed
        ("abcde", "xyzab", "cde"),
        ("abcde", "vwxyz", "abcde"),  # the window slid past everything known
        ("", "abc", ""),  # nothing known yet
        ("abcdeab", "xab", "cde"),  # a key listed twice ends the window where first listed
        ("abcdea", "xyabc", "de"),
        ("abcde", "xycba", "de"),  # reordered: the end is where the last one shown stood
    ],
)
def test_entries_after_the_last_one_still_shown_are_carried(
    previous: str, now: str, fallen: str
) -> None:
    result = keep_fallen_off(crawled(now), list(previous))
    assert result.carried_keys == frozenset(fallen)
    # Kept in the last page's memo, so a 304 next time carries them again.
    assert result.memos[-1].item_keys == tuple(now + fallen)


def test_the_window_leaves_empty_and_incomplete_crawls_alone() -> None:
    assert keep_fallen_off(crawled(""), list("abc")).carried_keys == frozenset()
    assert keep_fallen_off(crawled("x", complete=False), list("abc")).carried_keys == frozenset()


def test_the_carried_tail_is_capped_oldest_first() -> None:
    previous = [f"k{n}" for n in range(MAX_CARRIED_TAIL + 10)]
    result = keep_fallen_off(crawled("x", carried=""), ["x", *previous])
    assert len(result.carried_keys) == MAX_CARRIED_TAIL
    assert "k0" in result.carried_keys and f"k{MAX_CARRIED_TAIL}" not in result.carried_keys


def test_previous_keys_follow_the_memo_chain_and_stop_on_a_loop() -> None:
    memos = {
        f"{BASE}/1": memo(f"{BASE}/1", "ab", f"{BASE}/2"),
        f"{BASE}/2": memo(f"{BASE}/2", "cd", f"{BASE}/1"),
    }
    assert previous_keys(memos, f"{BASE}/1") == list("abcd")
    assert previous_keys(memos, f"{BASE}/other") == []


SNAPSHOTS = {
    "snapshot-1": numbered(5, 4, 3, 2, 1),
    "snapshot-2": numbered(7, 6, 5, 4, 3, edited=4),  # 2 and 1 slid off the end
    "snapshot-3": numbered(8, 7, 6, 4, 3),  # 5 was deleted from inside the window
}


def key(n: int) -> str:
    return f"{BASE}/p/{n}"


@pytest.mark.parametrize(
    ("window", "announced"),
    [
        (
            True,
            {
                "snapshot-2": {("new", key(7)), ("new", key(6)), ("changed", key(4))},
                "snapshot-3": {("new", key(8)), ("removed", key(5)), ("changed", key(4))},
            },
        ),
        (
            False,
            {
                "snapshot-2": {
                    ("new", key(7)),
                    ("new", key(6)),
                    ("changed", key(4)),
                    ("removed", key(2)),
                    ("removed", key(1)),
                },
                "snapshot-3": {("new", key(8)), ("removed", key(5)), ("changed", key(4))},
            },
        ),
    ],
)
async def test_a_window_feed_never_announces_entries_that_slid_off_as_removed(
    tmp_path: Path, sqlite_engine: Engine, window: bool, announced: dict[str, set[Any]]
) -> None:
    for snapshot, body in SNAPSHOTS.items():
        url = write(tmp_path, "feed.rss", body, snapshot=snapshot)
    spec = spec_of(url, window=window)
    with FixtureServer(tmp_path, snapshot="snapshot-1") as server:
        for snapshot in SNAPSHOTS:
            server.snapshot = snapshot
            async with Fetcher(fast_crawler(), host_map={HOST: server.address}) as fetcher:
                [outcome] = await run_sources([spec], engine=sqlite_engine, fetcher=fetcher)
            assert outcome.ok, outcome.error
            got = events_of(sqlite_engine, outcome.run_id)
            assert got == Counter(announced.get(snapshot, set())), snapshot


# ---------------------------------------------------------------------------------------------
# OECD's RSS service


async def test_the_oecd_feed_yields_the_expected_items() -> None:
    spec = OECD["oecd-rss"]
    for snapshot in ("snapshot-1", "snapshot-2"):
        result, queries = await crawl(SITES, spec, snapshot=snapshot)
        assert result.complete and result.error is None and result.skipped == 0
        assert queries == [spec.url.partition("?")[2]] and result.notes == ()
        want = json.loads((EXPECTED / "oecd-rss" / f"{snapshot}.json").read_text(encoding="utf-8"))
        assert [as_expected(item) for item in result.items] == want
        assert any(item.date and item.date.precision is Precision.DAY for item in result.items)
