"""scraper.extract (and Selector.parse): selecting raw fields out of listing pages.

The last part replays the modelled real sites in tests/fixtures/sites from disk: for every
source in the shipped config.yaml that has expected data, extraction plus normalisation must
reproduce tests/fixtures/expected/<source>/snapshot-N.json exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from radar.config import load_config
from radar.fixture_replies import CONTENT_TYPES, sidecar_entry
from scraper.adapters.html import HtmlSpec
from scraper.decode import decode_body
from scraper.extract import ListingPage, extract_listing, node_text, validate_selector
from scraper.normalise import build_items, clean_text
from scraper.spec import Selector
from scraper.urls import absolute_url, is_allowed
from tests.conftest import cfb_archive

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config.yaml"
SITES = ROOT / "tests" / "fixtures" / "sites"
EXPECTED = ROOT / "tests" / "fixtures" / "expected"
FIELDS = ("title", "link", "summary", "category", "date")


def listing(
    html: str,
    *,
    item: str = "article",
    next_page: str | None = None,
    **fields: str,
) -> ListingPage:
    return extract_listing(
        html,
        item=item,
        fields={name: Selector.parse(text) for name, text in fields.items()},
        next_page=Selector.parse(next_page) if next_page else None,
    )


def only(page: ListingPage) -> dict[str, str | None]:
    assert len(page.records) == 1
    return dict(page.records[0].fields)


def cleaned(page: ListingPage, field: str) -> list[str | None]:
    return [clean_text(record.fields[field]) for record in page.records]


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        # Entities, named and numeric, decoded once.
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("Borgerting &#8211; tendenser", "Borgerting – tendenser"),
        ("&#8220;Demokrati&#8221; &#x2013; &hellip;", "“Demokrati” – …"),
        ("a&nbsp;b", "a b"),
        ("&amp;amp;", "&amp;"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;", "<script>alert(1)</script>"),
        ("&aelig;bler &oslash;l &aring;", "æbler øl å"),
        # Inline elements are part of the text, without extra spaces.
        ("Et <strong>stærkt</strong> fællesskab", "Et stærkt fællesskab"),
        ("Med<em>inde</em>n i<span>ord</span>et", "Medinden iordet"),
        ("<a href='/x'>link</a>, <b>fed</b> og <i>kursiv</i>", "link, fed og kursiv"),
        # Block elements (and <br>) are separated, as a browser shows them.
        ("<p>a</p><p>b</p>", "a b"),
        ("<div>a</div><div>b</div>", "a b"),
        ("a<br>b<br/>c", "a b c"),
        ("<ul><li>en</li><li>to</li></ul>", "en to"),
        ("<h3>Titel</h3>Tekst", "Titel Tekst"),
        ("<table><tr><td>1</td><td>2</td></tr></table>", "1 2"),
        # What a reader never sees stays out.
        ("a<script>var x = '<p>b</p>';</script>c", "ac"),
        ("a<style>.x { color: red }</style>c", "ac"),
        ("a<template><p>skabelon</p></template>c", "ac"),
        ("a<noscript>Slå JavaScript til</noscript>c", "ac"),
        ("a<!-- kommentar -->c", "ac"),
        ("a<svg><title>ikon</title><text>svg</text></svg>c", "ac"),
        # Whitespace in the source is collapsed by clean_text.
        ("\n   Mange\n   linjer\t og   mellemrum  \n", "Mange linjer og mellemrum"),
    ],
)
def test_selected_text(markup: str, expected: str) -> None:
    page = listing(
        f"<html><body><article><div class='t'>{markup}</div></article></body></html>",
        title="div.t",
    )
    assert cleaned(page, "title") == [expected]


def test_node_text_of_nested_blocks() -> None:
    page = listing(
        "<article><div class='s'><p>Første <b>afsnit</b>.</p>"
        "<blockquote><p>Citat</p></blockquote><p>Sidste</p></div></article>",
        summary="div.s",
    )
    raw = only(page)["summary"]
    assert raw is not None
    assert clean_text(raw) == "Første afsnit. Citat Sidste"
    assert "afsnit.Citat" not in raw.replace(" ", "_")  # blocks never run together


def test_node_text_direct() -> None:
    from selectolax.lexbor import LexborHTMLParser

    node = LexborHTMLParser("<div id=x>a<p>b</p>c<script>d</script></div>").css_first("#x")
    assert node is not None
    assert clean_text(node_text(node)) == "a b c"


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<a id=x>Borgerpanel &amp; dialog</a>", "Borgerpanel & dialog"),  # one text node
        ("<a id=x></a>", ""),
        ("<a id=x><!-- skjult --></a>", ""),
        ("<a id=x><!-- skjult -->Synlig</a>", "Synlig"),
        ("<a id=x><script>skjult()</script></a>", ""),
        ("<a id=x>Bo<b>rger</b></a>", "Borger"),
    ],
)
def test_node_text_of_a_single_child_or_none(markup: str, expected: str) -> None:
    from selectolax.lexbor import LexborHTMLParser

    node = LexborHTMLParser(markup).css_first("#x")
    assert node is not None
    assert node_text(node) == expected


# --- fields, items, next page, base ---------------------------------------------------------

WORDPRESS = """<!DOCTYPE html>
<html lang="da-DK">
<head>
  <meta charset="UTF-8">
  <title>Inspiration til praksis &#8211; Center for Borgerdialog</title>
  <style>.entry-title { font-weight: bold }</style>
  <script>window.dataLayer = [{"title": "Ikke en titel"}];</script>
</head>
<body class="archive category">
  <header><nav><a href="/">Forside</a></nav></header>
  <main>
    <article class="post-entry post-1">
      <h2 class="entry-title"><a href="https://centerforborgerdialog.dk/demokratiser-byudviklingen/"
          rel="bookmark">Demokratisér byudviklingen!</a></h2>
      <span class="entry-date">11 | 2026</span>
      <span class="entry-category"><a href="/category/demokrati/">Demokrati</a></span>
      <div class="entry-summary"><p>Hvordan udvikler vi byer, som er robuste &amp; bæredygtige?</p>
        <p>Vores fælles rum&nbsp;bliver <strong>mere</strong> pressede.</p>
        <script>track("post-1")</script></div>
    </article>
    <article class="post-entry post-2">
      <h2 class="entry-title"><a href="/klimaborgerting/?utm_source=rss">Klimaborgerting &#8211;
          tendenser</a></h2>
      <div class="entry-summary">I denne rapport …</div>
    </article>
    <article class="post-entry post-3">
      <h2 class="entry-title">Uden link</h2>
    </article>
  </main>
  <nav class="navigation pagination">
    <span aria-current="page" class="page-numbers current">1</span>
    <a class="page-numbers" href="/category/inspiration-praksis/page/2/">2</a>
    <a class="next page-numbers" href="/category/inspiration-praksis/page/2/">Næste &raquo;</a>
  </nav>
</body>
</html>
"""

CFB_FIELDS = {
    "title": "h2.entry-title a",
    "link": "h2.entry-title a @href",
    "summary": ".entry-summary",
    "category": ".entry-category",
    "date": ".entry-date",
}


def test_extract_listing_wordpress_archive() -> None:
    page = listing(
        WORDPRESS, item="article.post-entry", next_page="a.next.page-numbers @href", **CFB_FIELDS
    )
    assert len(page.records) == 3
    first, second, third = ({k: clean_text(v) for k, v in r.fields.items()} for r in page.records)
    assert first == {
        "title": "Demokratisér byudviklingen!",
        "link": "https://centerforborgerdialog.dk/demokratiser-byudviklingen/",
        "summary": "Hvordan udvikler vi byer, som er robuste & bæredygtige? "
        "Vores fælles rum bliver mere pressede.",
        "category": "Demokrati",
        "date": "11 | 2026",
    }
    assert second == {
        "title": "Klimaborgerting – tendenser",
        "link": "/klimaborgerting/?utm_source=rss",
        "summary": "I denne rapport …",
        "category": None,
        "date": None,
    }
    assert third == {k: None for k in CFB_FIELDS}
    assert page.next_href == "/category/inspiration-praksis/page/2/"
    assert page.base_href is None

    items = build_items(
        page.records,
        page_url="https://centerforborgerdialog.dk/category/inspiration-praksis/",
        language="da",
    )
    assert items.skipped == 1
    assert [(i.key, str(i.date)) for i in items.items] == [
        ("https://centerforborgerdialog.dk/demokratiser-byudviklingen", "2026-11"),
        ("https://centerforborgerdialog.dk/klimaborgerting", "None"),
    ]


def test_attribute_selection_is_raw() -> None:
    page = listing(
        "<article><a class='x' href=' /a?b=1&amp;c=2 ' data-id='7' title='Tom &amp; Jerry'>t</a>"
        "<time datetime='2024-04-09T10:00:00+02:00'>i går</time></article>",
        link="a.x @href",
        ident="a.x @data-id",
        tooltip="a.x @title",
        date="time @datetime",
    )
    assert only(page) == {
        "link": " /a?b=1&c=2 ",  # entity decoded, whitespace left for absolute_url to strip
        "ident": "7",
        "tooltip": "Tom & Jerry",
        "date": "2024-04-09T10:00:00+02:00",
    }


def test_missing_fields_are_none() -> None:
    page = listing(
        "<article><h3><a>Ingen href</a></h3></article>",
        title="h3 a",
        link="h3 a @href",
        summary="p.summary",
        date="time @datetime",
    )
    assert only(page) == {"title": "Ingen href", "link": None, "summary": None, "date": None}


def test_empty_element_is_empty_text_not_none() -> None:
    page = listing("<article><p class='s'></p></article>", summary="p.s")
    assert only(page) == {"summary": ""}
    assert clean_text(only(page)["summary"]) is None


def test_fields_are_scoped_to_their_item() -> None:
    page = listing(
        "<div class='intro'><h3>Ikke et item</h3><p>Intro</p></div>"
        "<article><h3>A</h3></article>"
        "<article><p>Kun resumé</p></article>"
        "<article><h3>C</h3><p>Første</p><p>Anden</p></article>",
        title="h3",
        summary="p",
    )
    assert [dict(r.fields) for r in page.records] == [
        {"title": "A", "summary": None},
        {"title": None, "summary": "Kun resumé"},
        {"title": "C", "summary": "Første"},  # the first match inside the item
    ]


def test_no_items() -> None:
    page = listing("<html><body><p>Ingen indlæg fundet.</p></body></html>", title="h2")
    assert page == ListingPage(records=(), next_href=None, base_href=None)


def test_items_keep_document_order() -> None:
    html = "".join(f"<li class='i'><a href='/{n}/'>{n}</a></li>" for n in range(20))
    page = listing(f"<ul>{html}</ul>", item="li.i", title="a", link="a @href")
    assert [r.fields["title"] for r in page.records] == [str(n) for n in range(20)]


@pytest.mark.parametrize(
    ("markup", "selector", "expected"),
    [
        ("<a class='next' href='/page/3/'>Næste</a>", "a.next @href", "/page/3/"),
        (
            "<a class='next page-numbers' href='?page=2'>»</a>",
            "a.next.page-numbers @href",
            "?page=2",
        ),
        ("<link rel='next' href='https://x.dk/p/2/'>", "link[rel=next] @href", "https://x.dk/p/2/"),
        ("<li class='pager-next'><a href='/n'>n</a></li>", "li.pager-next a @href", "/n"),
        ("<span class='page-numbers current'>9</span>", "a.next @href", None),
        ("<a class='next'>Næste</a>", "a.next @href", None),
        ("<a class='next' href='/a'>1</a><a class='next' href='/b'>2</a>", "a.next @href", "/a"),
        ("<a class='next' href='/p/2/'>Næste&nbsp;side</a>", "a.next", "Næste\u00a0side"),
    ],
)
def test_next_page(markup: str, selector: str, expected: str | None) -> None:
    page = listing(
        f"<html><head></head><body><article><h2>x</h2></article>{markup}</body></html>",
        title="h2",
        next_page=selector,
    )
    assert page.next_href == expected


def test_next_page_is_found_outside_items_and_only_when_asked() -> None:
    html = "<article><a class='next' href='/inside/'>x</a></article>"
    assert listing(html, title="a", next_page="a.next @href").next_href == "/inside/"
    assert listing(html, title="a").next_href is None


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("<base href='https://cdn.example.dk/arkiv/'>", "https://cdn.example.dk/arkiv/"),
        ("<base href='/sub/'>", "/sub/"),
        ("<base target='_blank'><base href='/second/'>", "/second/"),
        ("<base href='/first/'><base href='/second/'>", "/first/"),
        ("<base target='_blank'>", None),
        ("", None),
    ],
)
def test_base_href_is_reported(head: str, expected: str | None) -> None:
    page = listing(f"<html><head>{head}</head><body><article>x</article></body></html>")
    assert page.base_href == expected


def test_base_href_makes_links_absolute_like_the_adapter() -> None:
    page = listing(
        "<html><head><base href='https://centerforborgerdialog.dk/arkiv/'></head><body>"
        "<article><a href='indlaeg-1/'>Et</a></article><a class='next' href='side/2/'>»</a>",
        title="a",
        link="a @href",
        next_page="a.next @href",
    )
    page_url = "https://centerforborgerdialog.dk/category/x/"
    base = absolute_url(page_url, page.base_href) or page_url
    items = build_items(page.records, page_url=base, language="da")
    assert [i.url for i in items.items] == ["https://centerforborgerdialog.dk/arkiv/indlaeg-1/"]
    assert absolute_url(base, page.next_href) == "https://centerforborgerdialog.dk/arkiv/side/2/"


def test_malformed_html_is_parsed_like_a_browser() -> None:
    page = listing(
        "<article><h3><a href='/a'>Uafsluttet <b>titel</h3><p>tekst"
        "<article><h3><a href=/b>Anden</a></h3>",
        title="h3",
        link="h3 a @href",
    )
    assert [(clean_text(r.fields["title"]), r.fields["link"]) for r in page.records] == [
        ("Uafsluttet titel", "/a"),
        ("Anden", "/b"),
    ]


# --- validate_selector and Selector.parse ---------------------------------------------------


@pytest.mark.parametrize(
    "css",
    [
        "article.post-entry",
        "h2.entry-title a",
        "div > p:first-child",
        "ul li:nth-child(2n+1)",
        "a[href^='https://']",
        "link[rel=next]",
        "#main .item, .teaser",
        "article:not(.sticky)",
        "div:has(> a)",
        "h3 + p",
        "h3 ~ time",
        "*",
    ],
)
def test_validate_selector_accepts_valid_css(css: str) -> None:
    validate_selector(css)


@pytest.mark.parametrize(
    "css",
    [
        "h3[[[",
        "",
        "   ",
        "[",
        "#",
        ".",
        "a,",
        ",a",
        ">>",
        "a >",
        ":nth-child(",
        "a::before",
        "a[href=",
    ],
)
def test_validate_selector_rejects_invalid_css(css: str) -> None:
    with pytest.raises(ValueError, match="invalid CSS selector"):
        validate_selector(css)


@pytest.mark.parametrize(
    ("text", "css", "attr"),
    [
        ("a.x @href", "a.x", "href"),
        ("h2.entry-title a @href", "h2.entry-title a", "href"),
        ("  h2 a   @href", "h2 a", "href"),
        ("time @datetime", "time", "datetime"),
        ("a @data-url", "a", "data-url"),
        ("svg a @xlink:href", "svg a", "xlink:href"),
        ("img @_src", "img", "_src"),
        ("h2.entry-title a", "h2.entry-title a", None),
        (".entry-summary", ".entry-summary", None),
        ("a[href^='mailto:']", "a[href^='mailto:']", None),
    ],
)
def test_selector_parse(text: str, css: str, attr: str | None) -> None:
    selector = Selector.parse(text)
    assert (selector.css, selector.attr) == (css, attr)
    assert Selector.parse(str(selector)) == selector


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.x @1bad", "attribute name"),
        ("a.x @-x", "attribute name"),
        ("a @ href", "attribute name"),
        ("a @href @src", "attribute name|CSS selector"),
        ("a @hr$ef", "attribute name"),
        ("a @href ", "attribute name"),
        (" @href", "empty CSS selector"),
        ("", "empty CSS selector"),
        ("   ", "empty CSS selector"),
        ("h3[[[ @href", "invalid CSS selector"),
        ("h3[[[", "invalid CSS selector"),
        ("@href", "invalid CSS selector"),
    ],
)
def test_selector_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Selector.parse(text)


def test_selector_parse_rejects_empty_attribute_name() -> None:
    # "a.x @" must not silently become the text selector "a.x".
    with pytest.raises(ValueError, match="attribute name"):
        Selector.parse("a.x @")


# --- the modelled real sites ----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    source: str
    snapshot: str


def _html_specs() -> dict[str, HtmlSpec]:
    """The html listings to check: config.yaml's, and the catalogue archive (cfb's fallback)."""
    specs = [s for s in load_config(CONFIG).sources if isinstance(s, HtmlSpec)]
    return {spec.name: spec for spec in [*specs, cfb_archive()]}


def _cases() -> list[Any]:
    """One case per (html listing, expected/<source>/snapshot-N.json), found now."""
    try:
        names = sorted(_html_specs())
    except Exception as exc:  # a config being edited must not break the rest of this module
        message = f"{CONFIG} does not load: {exc}"
        return [pytest.param(message, id="config-does-not-load")]
    cases: list[Any] = []
    for name in names:
        snapshots = sorted(
            (f.stem for f in (EXPECTED / name).glob("snapshot-*.json")),
            key=lambda stem: int(stem.rpartition("-")[2]),
        )
        cases += [
            pytest.param(Case(name, snapshot), id=f"{name}-{snapshot}") for snapshot in snapshots
        ]
    return cases


@dataclass(frozen=True)
class _Fetched:
    final_url: str
    text: str


def _fetch_from_disk(snapshot: Path, url: str) -> _Fetched:
    """What the fixture server would answer for `url`, read straight from the files.

    Same mapping as radar.fixture_server: `/a/` is `a/index.html`, `/a?q` the file `a?q` if it
    exists, a directory without its slash redirects, and `<host>/_headers.json` may set the
    status (redirects are followed) and the Content-Type the body is decoded with.
    """
    for _ in range(6):
        parts = urlsplit(url)
        host_dir = snapshot / (parts.hostname or "")
        raw_path = parts.path or "/"
        entry = _sidecar(host_dir, raw_path, parts.query)
        status = entry.get("status", 200)
        if status in (301, 302, 303, 307, 308) and entry.get("location"):
            url = urljoin(url, entry["location"])
            continue
        if status != 200:
            pytest.fail(f"{url}: the fixture answers {status}, not a listing page")
        path = unquote(raw_path).lstrip("/")
        file = host_dir / f"{path}?{parts.query}" if parts.query else None
        if file is None or not file.is_file():
            file = host_dir / (path + "index.html" if raw_path.endswith("/") else path)
        if file.is_dir():
            url = parts._replace(path=raw_path + "/").geturl()
            continue
        if not file.is_file():
            pytest.fail(f"{url}: no fixture file {file.relative_to(SITES)}")
        suffix = Path(file.name.partition("?")[0]).suffix.lower()
        content_type = entry.get("content-type", CONTENT_TYPES.get(suffix))
        return _Fetched(url, decode_body(file.read_bytes(), content_type))
    pytest.fail(f"{url}: too many redirects")


def _sidecar(host_dir: Path, path: str, query: str) -> dict[str, Any]:
    """The fixture server's own sidecar entry for the path, its names lower-cased."""
    entry = sidecar_entry(host_dir, path, query)
    return {name.lower(): value for name, value in entry.items()}


def _walk(spec: HtmlSpec, snapshot: Path) -> tuple[list[dict[str, str | None]], int]:
    """The items of every listing page, page after page, as HtmlAdapter walks them."""
    records: list[dict[str, str | None]] = []
    url: str | None = spec.url
    visited: set[str] = set()
    while url is not None and url not in visited and len(visited) < spec.max_pages:
        visited.add(url)
        fetched = _fetch_from_disk(snapshot, url)
        page = extract_listing(
            fetched.text,
            item=spec.item,
            fields=spec.fields.selectors(),
            next_page=spec.next_page,
        )
        base = absolute_url(fetched.final_url, page.base_href) or fetched.final_url
        normalised = build_items(page.records, page_url=base, language=spec.language)
        records.extend(
            {
                "title": item.title,
                "link": item.url,
                "summary": item.summary,
                "category": item.category,
                "date": str(item.date) if item.date is not None else None,
            }
            for item in normalised.items
        )
        url = absolute_url(base, page.next_href)
        if url is not None and not is_allowed(url, spec.allowed_domains):
            url = None
    return records, len(visited)


@pytest.mark.parametrize("case", _cases())
def test_fixture_site_reproduces_expected_items(case: Case | str) -> None:
    if isinstance(case, str):
        pytest.fail(case)
    spec = _html_specs()[case.source]
    expected_file = EXPECTED / case.source / f"{case.snapshot}.json"
    expected = [
        {name: record.get(name) for name in FIELDS}
        for record in json.loads(expected_file.read_text(encoding="utf-8"))
    ]
    got, pages = _walk(spec, SITES / case.snapshot)
    where = f"{case.source} {case.snapshot} ({pages} pages, max_pages={spec.max_pages})"
    for index, (mine, theirs) in enumerate(zip(got, expected, strict=False)):
        assert mine == theirs, f"{where}: item {index} differs"
    assert len(got) == len(expected), f"{where}: {len(got)} items, expected {len(expected)}"
    assert got  # a fixture with no items would prove nothing


def test_fixture_cases_are_found() -> None:
    """The catalogue page, its archive and the html sources are always among the cases."""
    ids = {param.id for param in _cases()}
    for name in ("cfb-katalog", "cfb-archive"):
        assert {f"{name}-snapshot-{n}" for n in (1, 2, 3)} <= ids
    assert {"knoca-snapshot-2", "vive-snapshot-2", "skr-snapshot-2"} <= ids
