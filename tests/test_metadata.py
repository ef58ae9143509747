"""scraper.metadata: what a page says about itself, from the most trusted place that says it."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.metadata import MAX_VALUE_CHARS, page_metadata, script_value
from scraper.spec import Selector

URL = "https://www.nesta.org.uk/report/shifting-the-dial/"
SCRIPT_FIELDS = {
    "title": "pageTitle",
    "summary": "teaser",
    "date": "publishDate",
    "category": "areasOfWork",
}
SELECTORS = {
    "title": Selector.parse("h1"),
    "summary": Selector.parse(".standfirst"),
    "date": Selector.parse("time @datetime"),
    "category": Selector.parse(".tag"),
}


def ld(data: Any) -> str:
    # As sites write it: "</" escaped, or the HTML parser would end the script element there.
    text = json.dumps(data).replace("</", "<\\/")
    return f'<script type="application/ld+json">{text}</script>'


def meta(name: str, content: str, *, attr: str = "name") -> str:
    return f'<meta {attr}="{name}" content="{html.escape(content)}">'


# Each layer of self-description, with values that say where they came from.
LAYERS: dict[str, str] = {
    "selectors": (
        '<h1>selectors title</h1><p class="standfirst">selectors summary</p>'
        '<time datetime="2024-01-01"></time><span class="tag">selectors category</span>'
    ),
    "script": (
        "<script>dataLayer.push({'pageTitle': 'script title', 'teaser': 'script summary',"
        " 'publishDate': '2024-01-02', 'areasOfWork': 'script category'})</script>"
    ),
    "json-ld": ld(
        {
            "@type": "WebPage",
            "name": "json-ld title",
            "description": "json-ld summary",
            "datePublished": "2024-01-03",
            "keywords": ["json-ld category"],
        }
    ),
    "citation": "".join(
        meta(name, value)
        for name, value in [
            ("citation_title", "citation title"),
            ("citation_abstract", "citation summary"),
            ("citation_publication_date", "2024/01/04"),
            ("citation_keywords", "citation category"),
        ]
    ),
    "dublin-core": "".join(
        meta(name, value)
        for name, value in [
            ("DC.title", "dublin-core title"),
            ("DC.description", "dublin-core summary"),
            ("DC.date", "2024-01-05"),
            ("DC.subject", "dublin-core category"),
        ]
    ),
    "opengraph": "".join(
        meta(name, value, attr="property")
        for name, value in [
            ("og:title", "opengraph title"),
            ("og:description", "opengraph summary"),
            ("article:published_time", "2024-01-06T10:00:00Z"),
            ("article:section", "opengraph category"),
        ]
    ),
    "plain": "<title>plain title</title>" + meta("description", "plain summary"),
}
DATES = {
    "selectors": "2024-01-01",
    "script": "2024-01-02",
    "json-ld": "2024-01-03",
    "citation": "2024/01/04",
    "dublin-core": "2024-01-05",
    "opengraph": "2024-01-06T10:00:00Z",
    "plain": None,
}


@pytest.mark.parametrize("top", list(LAYERS))
def test_each_field_comes_from_the_most_trusted_layer_present(top: str) -> None:
    names = list(LAYERS)[list(LAYERS).index(top) :]
    body = "".join(LAYERS[name] for name in reversed(names))  # document order must not matter
    found = page_metadata(
        f"<html><head></head><body>{body}</body></html>",
        url=URL,
        selectors=SELECTORS,
        script_fields=SCRIPT_FIELDS,
    )
    assert found.title == f"{top} title"
    assert found.summary == f"{top} summary"
    assert found.date == DATES[top]
    assert found.category == (None if top == "plain" else f"{top} category")


def test_an_empty_or_blank_value_falls_through_to_the_next_layer() -> None:
    page = (
        '<h1>   </h1><script>x = {"publishDate": ""}</script>'
        + ld({"@type": "WebPage", "name": " ", "datePublished": "2024-02-03"})
        + meta("og:title", "The real title", attr="property")
    )
    found = page_metadata(page, url=URL, selectors=SELECTORS, script_fields=SCRIPT_FIELDS)
    assert (found.title, found.date) == ("The real title", "2024-02-03")


def test_nothing_at_all_gives_an_empty_metadata() -> None:
    found = page_metadata("", url=URL)
    assert found.fields() == dict.fromkeys(("title", "summary", "date", "category"))
    assert (found.links, found.language) == ((), None)


# JSON-LD


def test_graph_nodes_are_read_and_the_page_node_chosen_over_site_and_organisation() -> None:
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Nesta", "description": "An innovation agency"},
            {"@type": "Organization", "name": "Nesta"},
            {"@type": "WebPage", "name": "Shifting the dial", "description": "The gap."},
            {"@type": "BreadcrumbList", "itemListElement": []},
        ],
    }
    found = page_metadata(ld(graph), url=URL)
    assert (found.title, found.summary) == ("Shifting the dial", "The gap.")


def test_the_most_specific_creative_work_wins_whatever_the_order() -> None:
    blocks = ld({"@type": "WebPage", "name": "Page | Nesta", "description": "Page text"}) + ld(
        {
            "@type": ["CreativeWork", "https://schema.org/Report"],
            "headline": "The report",
            "keywords": "climate, participation",
        }
    )
    found = page_metadata(blocks, url=URL)
    # Field by field: the report has no description, so the page's is used.
    assert (found.title, found.summary, found.category) == (
        "The report",
        "Page text",
        "climate, participation",
    )


def test_main_entity_and_value_shapes_are_understood() -> None:
    page = {
        "@type": "WebPage",
        "mainEntity": {
            "@type": "Article",
            "headline": {"@value": "Headline as a value object"},
            "description": ["First description", "Second"],
            "about": [{"@type": "Thing", "name": "Democracy"}, "Climate", 7],
            "datePublished": "2023-03-02",
            "inLanguage": "en-GB",
        },
    }
    found = page_metadata(ld(page), url=URL)
    assert found.title == "Headline as a value object"
    assert found.summary == "First description"
    assert found.category == "Democracy, Climate"
    assert (found.date, found.language) == ("2023-03-02", "en")


@pytest.mark.parametrize(
    "block",
    [
        '{"@type": "WebPage", "name": "Broken",}',  # trailing comma
        '{"@type": "WebPage", "name": "Unclosed"',
        "[" * 100_000 + "]" * 100_000,  # deeper than the JSON parser's recursion limit
        '{"@type": "WebPage", "name": ' + "[" * 600 + '"deep"' + "]" * 600 + "}",
        "null",
        '"a string"',
        "42",
        '{"@type": 42, "name": "typed oddly"}',
        '{"@type": "WebPage", "name": 42, "description": {"no": "text"}}',
        '{"name": "untyped"}',
        '{"@type": "Person", "name": "Not a work"}',
        "<!-- {} -->",
    ],
)
def test_broken_or_odd_json_ld_is_passed_over(block: str) -> None:
    page = f'<script type="application/ld+json">{block}</script>'
    page += meta("og:title", "Fallback", attr="property")
    assert page_metadata(page, url=URL).title == "Fallback"


def test_a_broken_block_does_not_hide_a_good_one() -> None:
    page = '<script type="application/ld+json">{"name": "x",}</script>'
    page += ld({"@type": "Report", "name": "Good block"})
    assert page_metadata(page, url=URL).title == "Good block"


def test_raw_newlines_inside_json_ld_strings_are_tolerated() -> None:
    page = '<script type="application/ld+json">{"@type": "WebPage", "name": "Two\nlines"}</script>'
    assert page_metadata(page, url=URL).title == "Two\nlines"


def test_markup_and_entities_in_json_ld_are_text_and_scripts_in_it_are_dropped() -> None:
    page = ld(
        {
            "@type": "WebPage",
            "name": "Heat pumps &amp; the public",
            "description": "<p>Households&nbsp;in <b>three</b> regions"
            "<script>alert(1)</script><style>p {}</style></p>",
        }
    )
    found = page_metadata(page, url=URL)
    assert found.title == "Heat pumps & the public"
    assert found.summary is not None
    assert " ".join(found.summary.split()) == "Households in three regions"


# Script fields


@pytest.mark.parametrize(
    ("script", "value"),
    [
        ('dataLayer.push({"publishDate": "2024-03-12"})', "2024-03-12"),
        ("dataLayer.push({'publishDate': '2024-03-12'})", "2024-03-12"),
        ("dataLayer.push({publishDate : '2024-03-12'})", "2024-03-12"),
        ('x = {"publishDate": "caf\\u00e9 \\"quoted\\" \\x41"}', 'café "quoted" A'),
        ("x = {publishDate: 'it\\'s'}", "it's"),
        ('x = {"publishDate": "\\ud83d\\ude00 \\ud800"}', "😀 \ufffd"),
        ('x = {"publishDate": ["A fairer start", "", \'Discovery\']}', "A fairer start, Discovery"),
        ('x = {"publishDate": ""}; y = {"publishDate": "second"}', "second"),
        ('x = {"oldpublishDate": "no", "publishDateOld": "no", "publishDate": "yes"}', "yes"),
        ('x = {"publishDate": null}', None),
        ('x = {"publishDate": "' + "x" * 3_000 + '"}', None),  # too long to be a label
        ('x = {"publishDate": "multi\nline"}', None),
        ('"publishDate": "' * 50_000, None),  # never closed: bounded, and quickly done
    ],
)
def test_script_values_are_read_from_common_literal_forms(script: str, value: str | None) -> None:
    assert script_value([script], "publishDate") == value


def test_script_keys_are_literal_not_patterns() -> None:
    assert script_value(['x = {"$date": "2024-01-01", "a.b": "no"}'], "$date") == "2024-01-01"
    assert script_value(['x = {"aXb": "no"}'], "a.b") is None


def test_the_first_script_that_has_the_key_wins() -> None:
    pages = "<script>a = {}</script><script>b = {'areasOfWork': 'A healthy life'}</script>"
    pages += "<script>c = {'areasOfWork': 'Later'}</script>"
    found = page_metadata(pages, url=URL, script_fields={"category": "areasOfWork"})
    assert found.category == "A healthy life"


def test_json_ld_and_external_scripts_are_not_searched_for_script_fields() -> None:
    page = ld({"publishDate": "2020-01-01"}) + '<script src="/x.js">{"publishDate": "1"}</script>'
    assert page_metadata(page, url=URL, script_fields={"date": "publishDate"}).date is None


# Links, titles, language


def test_default_links_are_the_pages_pdfs_absolute_and_once() -> None:
    page = (
        '<a href="/documents/1/Report.pdf">Report</a><a href="/documents/1/Report.pdf">Again</a>'
        '<a href="https://media.nesta.org.uk/old/Summary.PDF?download=1">Old</a>'
        '<a href="/blog/x/">Blog</a><a href="javascript:alert(1)">x.pdf</a>'
    )
    assert page_metadata(page, url=URL).links == (
        "https://www.nesta.org.uk/documents/1/Report.pdf",
        "https://media.nesta.org.uk/old/Summary.PDF?download=1",
    )


def test_a_links_selector_takes_every_match_and_only_those() -> None:
    page = (
        '<div class="page-heading__downloads"><a href="/documents/2/a.pdf">A</a>'
        '<a href="/documents/3/data.xlsx">Data</a></div>'
        '<footer><a href="/documents/99/annual.pdf">Annual report</a></footer>'
    )
    selectors = {"links": Selector.parse(".page-heading__downloads a @href")}
    assert page_metadata(page, url=URL, selectors=selectors).links == (
        "https://www.nesta.org.uk/documents/2/a.pdf",
        "https://www.nesta.org.uk/documents/3/data.xlsx",
    )


def test_links_are_capped() -> None:
    page = "".join(f'<a href="/d/{n}.pdf">{n}</a>' for n in range(200))
    assert len(page_metadata(page, url=URL).links) == 50


@pytest.mark.parametrize(
    ("title", "site", "expected"),
    [
        ("Shifting the dial | Nesta", "Nesta", "Shifting the dial"),
        ("Shifting the dial – Nesta", "Nesta", "Shifting the dial"),
        ("Shifting the dial | Nesta", None, "Shifting the dial | Nesta"),
        ("Nesta", "Nesta", "Nesta"),
        (" | Nesta", "Nesta", " | Nesta"),
        ("Nesta | Shifting the dial", "Nesta", "Nesta | Shifting the dial"),
    ],
)
def test_the_title_fallback_drops_the_site_name_only_when_known(
    title: str, site: str | None, expected: str
) -> None:
    page = f"<title>{html.escape(title)}</title>"
    if site:
        page += meta("og:site_name", site, attr="property")
    assert page_metadata(page, url=URL).title == expected


@pytest.mark.parametrize(
    ("page", "language"),
    [
        ('<html lang="en-GB"><body></body></html>', "en"),
        ('<html lang="DA"><body></body></html>', "da"),
        ('<html lang="not a tag"><head><meta property="og:locale" content="sv_SE"></head>', "sv"),
        ("<html><body></body></html>", None),
    ],
)
def test_the_language_is_the_primary_subtag_declared(page: str, language: str | None) -> None:
    assert page_metadata(page, url=URL).language == language


# Hostile pages


def test_huge_values_are_capped() -> None:
    page = ld({"@type": "WebPage", "name": "x" * 50_000}) + "<h1>" + "y" * 50_000 + "</h1>"
    assert len(page_metadata(page, url=URL).title or "") == MAX_VALUE_CHARS
    with_selector = page_metadata(page, url=URL, selectors={"title": Selector.parse("h1")})
    assert with_selector.title == "y" * MAX_VALUE_CHARS


def test_control_characters_pass_through_raw_for_the_normaliser_to_clean() -> None:
    page = ld({"@type": "WebPage", "name": "A\u0000B\u202eC"})
    # Cleaning is scraper.normalise's job; metadata only chooses and caps.
    assert page_metadata(page, url=URL).title == "A\u0000B\u202eC"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["@type", "@graph", "name", "headline", "description", "keywords",
                             "about", "datePublished", "mainEntity", "inLanguage", "@value"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_any_json_ld_gives_metadata_without_raising(data: Any) -> None:
    found = page_metadata(ld(data), url=URL)
    for value in found.fields().values():
        assert value is None or (isinstance(value, str) and value.strip())


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_metadata_without_raising(text: str) -> None:
    page_metadata(text, url=URL, selectors=SELECTORS, script_fields=SCRIPT_FIELDS)


@pytest.mark.parametrize("where", ["selector", "json-ld"])
def test_deeply_nested_markup_gives_metadata_without_raising(where: str) -> None:
    deep = "<span>" * 5_000 + "Deep" + "</span>" * 5_000
    if where == "selector":
        page, selectors = f"<h1>{deep}</h1>", {"title": Selector.parse("h1")}
    else:
        # As deep as the value cap (10,000 characters) lets a JSON-LD value be.
        nested = "<span>" * 700 + "Deep" + "</span>" * 700
        page, selectors = ld({"@type": "WebPage", "name": nested}), {}
    try:
        title = page_metadata(page, url=URL, selectors=selectors).title
    except RecursionError:
        title = "RecursionError"
    # Asserted outside the except block, so no failure report chains the RecursionError: its
    # thousands of frames would take pytest minutes to format.
    assert title == "Deep"
