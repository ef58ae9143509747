"""scraper.urls: absolute links, item identity (canonical_url) and the allowed-domain rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scraper.urls import MAX_URL_LENGTH, absolute_url, canonical_url, host_of, is_allowed

CFB = "centerforborgerdialog.dk"
PAGE = "https://centerforborgerdialog.dk/category/inspiration-praksis/page/2/"


# --- canonical_url: one page, one string -------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Tracking parameters say where a click came from, never what the page is.
        ("https://example.dk/a?utm_source=nl", "https://example.dk/a"),
        ("https://example.dk/a?utm_source=nl&utm_medium=email", "https://example.dk/a"),
        ("https://example.dk/a?utm_campaign=x&utm_content=y&utm_term=z", "https://example.dk/a"),
        ("https://example.dk/a?UTM_Source=nl", "https://example.dk/a"),
        ("https://example.dk/a?fbclid=IwAR0abc", "https://example.dk/a"),
        ("https://example.dk/a?gclid=EAIaIQ", "https://example.dk/a"),
        ("https://example.dk/a?mc_cid=123&mc_eid=456", "https://example.dk/a"),
        ("https://example.dk/a?p=7&utm_source=nl&fbclid=x", "https://example.dk/a?p=7"),
        # Other parameters are kept, sorted; blank values survive.
        ("https://example.dk/a?b=2&a=1", "https://example.dk/a?a=1&b=2"),
        ("https://example.dk/a?page=2&cat=demokrati", "https://example.dk/a?cat=demokrati&page=2"),
        ("https://example.dk/a?q=", "https://example.dk/a?q="),
        ("https://example.dk/?p=123", "https://example.dk/?p=123"),
        # Fragments never reach the server.
        ("https://example.dk/a#comments", "https://example.dk/a"),
        ("https://example.dk/a?x=1#top", "https://example.dk/a?x=1"),
        ("https://example.dk/#", "https://example.dk/"),
        # Scheme and host case, default ports.
        ("HTTPS://Example.DK:443/a/", "https://example.dk/a"),
        ("https://EXAMPLE.dk/a", "https://example.dk/a"),
        ("http://example.dk:80/a", "http://example.dk/a"),
        ("https://example.dk:8443/a", "https://example.dk:8443/a"),
        ("http://example.dk:443/a", "http://example.dk:443/a"),
        ("https://example.dk:80/a", "https://example.dk:80/a"),
        ("https://example.dk./a", "https://example.dk/a"),
        # Path case is the server's business and stays.
        ("https://example.dk/Nyheder/A", "https://example.dk/Nyheder/A"),
        # Trailing slash, and the root path.
        ("https://example.dk/a/", "https://example.dk/a"),
        ("https://example.dk/a/b/", "https://example.dk/a/b"),
        ("https://example.dk/a//", "https://example.dk/a"),
        ("https://example.dk/a/?x=1", "https://example.dk/a?x=1"),
        ("https://example.dk/", "https://example.dk/"),
        ("https://example.dk", "https://example.dk/"),
        ("https://example.dk?x=1", "https://example.dk/?x=1"),
        ("https://example.dk//", "https://example.dk/"),
        # Percent-encoding in the path is kept as written.
        ("https://example.dk/caf%C3%A9/", "https://example.dk/caf%C3%A9"),
        ("https://example.dk/a%2Fb", "https://example.dk/a%2Fb"),
        ("https://example.dk/a%20b/", "https://example.dk/a%20b"),
        # A Unicode path stays Unicode.
        # Non-ASCII paths are keyed in their percent-encoded UTF-8 form, as browsers send them.
        ("https://example.dk/æble-og-øl/", "https://example.dk/%C3%A6ble-og-%C3%B8l"),
        (
            "https://example.se/nyheter/väljare-år/",
            "https://example.se/nyheter/v%C3%A4ljare-%C3%A5r",
        ),
        # Surrounding whitespace is not part of the address.
        ("  https://example.dk/a/ \n", "https://example.dk/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    "variant",
    [
        "https://centerforborgerdialog.dk/demokratiser-byudviklingen/",
        "https://centerforborgerdialog.dk/demokratiser-byudviklingen",
        "HTTPS://CenterForBorgerdialog.dk:443/demokratiser-byudviklingen/",
        "https://centerforborgerdialog.dk/demokratiser-byudviklingen/#respond",
        "https://centerforborgerdialog.dk/demokratiser-byudviklingen/?utm_source=facebook"
        "&utm_medium=social&fbclid=IwAR2x",
        "https://centerforborgerdialog.dk/demokratiser-byudviklingen?gclid=1&mc_cid=2#top",
    ],
)
def test_spellings_of_one_item_share_one_identity(variant: str) -> None:
    assert canonical_url(variant) == "https://centerforborgerdialog.dk/demokratiser-byudviklingen"


def test_different_pages_keep_different_identities() -> None:
    keys = {
        canonical_url(url)
        for url in (
            "https://example.dk/a",
            "https://example.dk/A",
            "https://example.dk/a?p=1",
            "https://example.dk/a?p=2",
            "http://example.dk/a",
            "https://www.example.dk/a",
            "https://example.dk:8443/a",
            "https://example.dk/a/b",
        )
    }
    assert len(keys) == 8


def test_percent_encoded_and_unicode_paths_share_one_identity() -> None:
    assert (
        canonical_url("https://example.dk/café")
        == canonical_url("https://example.dk/caf%C3%A9")
        == canonical_url("https://example.dk/caf%c3%a9")
    )


def test_canonical_url_keeps_ipv6_literals() -> None:
    assert canonical_url("http://[::1]/x/") == "http://[::1]/x"
    assert canonical_url("http://[::1]:8080/x") == "http://[::1]:8080/x"


# --- absolute_url: only web pages, resolved against the page ----------------------------------


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        # Relative forms.
        (
            "/demokratiser-byudviklingen/",
            "https://centerforborgerdialog.dk/demokratiser-byudviklingen/",
        ),
        ("3/", "https://centerforborgerdialog.dk/category/inspiration-praksis/page/2/3/"),
        ("../3/", "https://centerforborgerdialog.dk/category/inspiration-praksis/page/3/"),
        ("../../", "https://centerforborgerdialog.dk/category/inspiration-praksis/"),
        ("../../../../../../x", "https://centerforborgerdialog.dk/x"),
        ("?page=3", "https://centerforborgerdialog.dk/category/inspiration-praksis/page/2/?page=3"),
        ("./", PAGE),
        # Protocol-relative links take the page's scheme.
        ("//knoca.eu/x", "https://knoca.eu/x"),
        # Absolute links stay as given (identity is canonical_url's job, not this one's).
        ("https://knoca.eu/a/?utm_source=x", "https://knoca.eu/a/?utm_source=x"),
        ("http://example.dk/a", "http://example.dk/a"),
        ("HTTPS://Example.dk/a", "https://Example.dk/a"),
        ("/a#section", "https://centerforborgerdialog.dk/a#section"),
        # Surrounding whitespace; tabs and newlines inside are dropped, as browsers do.
        ("  /a/  ", "https://centerforborgerdialog.dk/a/"),
        ("\n\t/a/\n", "https://centerforborgerdialog.dk/a/"),
        ("\u00a0/a/\u00a0", "https://centerforborgerdialog.dk/a/"),
        (
            "/demokratiser-\nbyudviklingen/",
            "https://centerforborgerdialog.dk/demokratiser-byudviklingen/",
        ),
        ("/a\tb/", "https://centerforborgerdialog.dk/ab/"),
        ("/a\x00b\x1f/", "https://centerforborgerdialog.dk/ab/"),
        ("https://exam\nple.dk/a", "https://example.dk/a"),
    ],
)
def test_absolute_url_resolves(href: str, expected: str) -> None:
    assert absolute_url(PAGE, href) == expected


def test_absolute_url_protocol_relative_on_http_page() -> None:
    assert (
        absolute_url("http://example.dk/list/", "//cdn.example.dk/x") == "http://cdn.example.dk/x"
    )


@pytest.mark.parametrize(
    "href",
    [
        None,
        "",
        "   ",
        "\n\t",
        "#",
        "#top",
        "  #comments",
        "javascript:void(0)",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "  javascript:alert(1)",
        "java\nscript:alert(1)",
        "java\tscript:alert(1)",
        "\x00javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "DATA:text/html,<p>x</p>",
        "mailto:redaktion@centerforborgerdialog.dk",
        "MAILTO:x@example.dk",
        "tel:+4512345678",
        "ftp://example.dk/file.pdf",
        "file:///etc/passwd",
        "vbscript:msgbox(1)",
        "http:///no-host",
    ],
)
def test_absolute_url_drops_links_that_are_not_web_pages(href: str | None) -> None:
    assert absolute_url(PAGE, href) is None


def test_absolute_url_drops_over_long_urls() -> None:
    base = "https://example.dk/"
    fits = "/" + "a" * (MAX_URL_LENGTH - len("https://example.dk/"))
    assert absolute_url(base, fits) == "https://example.dk" + fits
    assert len(absolute_url(base, fits) or "") == MAX_URL_LENGTH
    assert absolute_url(base, fits + "a") is None
    assert absolute_url(base, "/?q=" + "x" * 5000) is None


def test_absolute_url_returns_none_for_malformed_bracket_host() -> None:
    assert absolute_url(PAGE, "http://[oops/") is None


@pytest.mark.parametrize("href", ["https://example.dk:99999/x", "https://example.dk:abc/x"])
def test_absolute_url_rejects_invalid_ports(href: str) -> None:
    assert absolute_url(PAGE, href) is None


# --- host_of and is_allowed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://CenterForBorgerdialog.DK/a", "centerforborgerdialog.dk"),
        ("https://www.knoca.eu:8443/x", "www.knoca.eu"),
        ("https://user:pw@example.dk/", "example.dk"),
        ("/relative/only", ""),
        ("mailto:x@example.dk", ""),
    ],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://centerforborgerdialog.dk/page/2/", True),
        ("http://centerforborgerdialog.dk/x", True),
        ("https://CENTERFORBORGERDIALOG.DK/x", True),
        ("https://centerforborgerdialog.dk:8443/x", True),
        ("https://www.centerforborgerdialog.dk/x", True),
        ("https://a.b.centerforborgerdialog.dk/x", True),
        # Lookalikes: a longer name that merely ends with the domain, or contains it.
        ("https://evilcentre-forborgerdialog.dk/x", False),
        ("https://evilcenterforborgerdialog.dk/x", False),
        ("https://centerforborgerdialog.dk.evil.com/x", False),
        ("https://centerforborgerdialog.dkevil.com/x", False),
        ("https://evil.com/centerforborgerdialog.dk/", False),
        ("https://evil.com/?u=https://centerforborgerdialog.dk/", False),
        ("https://centerforborgerdialog.dk@evil.com/x", False),
        ("https://forborgerdialog.dk/x", False),
        ("https://dk/x", False),
        ("/page/2/", False),
    ],
)
def test_is_allowed(url: str, allowed: bool) -> None:
    assert is_allowed(url, (CFB,)) is allowed


def test_is_allowed_with_several_domains_and_none() -> None:
    domains = ("knoca.eu", "vive.dk")
    assert is_allowed("https://www.knoca.eu/x", domains)
    assert is_allowed("https://vive.dk/x", domains)
    assert not is_allowed("https://centerforborgerdialog.dk/x", domains)
    assert not is_allowed("https://notknoca.eu/x", domains)
    assert not is_allowed("https://knoca.eu/x", ())


def test_is_allowed_is_exact_about_www() -> None:
    # A source configured for www.knoca.eu does not cover the bare domain or its siblings.
    assert is_allowed("https://www.knoca.eu/x", ("www.knoca.eu",))
    assert not is_allowed("https://knoca.eu/x", ("www.knoca.eu",))
    assert not is_allowed("https://news.knoca.eu/x", ("www.knoca.eu",))


# --- properties ---------------------------------------------------------------------------------

_SEGMENT = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_.~æøåäöé%20"), max_size=12
).filter(lambda s: s not in (".", ".."))
_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)
_HOSTS = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_NAME.filter(lambda s: s[0] != "-" and s[-1] != "-"), min_size=1, max_size=3),
    st.sampled_from(["dk", "se", "eu", "com", "DK"]),
)
# Spelled out rather than imported, so the tests check the module against the list.
_TRACKING_NAMES = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_ga", "_hsenc", "_hsmi", "igshid"}
)
_KEY = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC_-0123456789", min_size=1, max_size=8).filter(
    lambda k: k.lower() not in _TRACKING_NAMES and not k.lower().startswith(("utm_", "pk_", "mtm_"))
)
_VALUE = st.text(
    # Any character a URL may carry, raw or percent-escaped; raw whitespace is not one of them.
    alphabet=st.characters(
        codec="utf-8", exclude_characters="#&", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")
    ),
    max_size=10,
)


@st.composite
def _urls(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(scheme://netloc, path, query, fragment suffix) of a plausible web URL."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(_HOSTS)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    segments = draw(st.lists(_SEGMENT, max_size=4))
    path = "/" + "/".join(segments) if segments or draw(st.booleans()) else ""
    params = draw(st.lists(st.tuples(_KEY, _VALUE), max_size=4))
    query = "&".join(f"{k}={v}" for k, v in params)
    fragment = draw(st.sampled_from(["", "#", "#top", "#x?y=1"]))
    return f"{scheme}://{host}{port}", path, query, fragment


def _join(origin: str, path: str, query: str, fragment: str = "") -> str:
    return origin + path + (f"?{query}" if query else "") + fragment


_TRACKING = st.lists(
    st.tuples(
        st.sampled_from(
            ["utm_source", "utm_medium", "utm_campaign", "UTM_Term", "fbclid", "gclid", "mc_cid"]
        ),
        st.text(alphabet="abcXYZ019-_.", max_size=10),
    ),
    min_size=1,
    max_size=4,
)


@given(_urls())
def test_canonical_url_is_idempotent(parts: tuple[str, str, str, str]) -> None:
    once = canonical_url(_join(*parts))
    assert canonical_url(once) == once


@given(_urls(), _TRACKING, st.data())
def test_tracking_parameters_never_change_identity(
    parts: tuple[str, str, str, str], tracking: list[tuple[str, str]], data: st.DataObject
) -> None:
    origin, path, query, fragment = parts
    pairs = [p for p in query.split("&") if p]
    for key, value in tracking:
        pairs.insert(data.draw(st.integers(0, len(pairs))), f"{key}={value}")
    assert canonical_url(_join(origin, path, "&".join(pairs), fragment)) == canonical_url(
        _join(*parts)
    )


@given(_urls(), st.text(alphabet="abc-_/?=&#", max_size=12))
def test_a_fragment_never_changes_identity(parts: tuple[str, str, str, str], fragment: str) -> None:
    origin, path, query, _ = parts
    assert canonical_url(_join(origin, path, query, "#" + fragment)) == canonical_url(
        _join(origin, path, query)
    )


@given(_urls())
def test_a_trailing_slash_never_changes_identity(parts: tuple[str, str, str, str]) -> None:
    origin, path, query, fragment = parts
    with_slash = _join(origin, path + "/", query, fragment)
    assert canonical_url(with_slash) == canonical_url(_join(*parts))
