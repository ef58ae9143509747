"""The fixture server routes by Host, maps paths like a real server, and injects faults."""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING

import httpx
import pytest

from radar.fixture_server import Fault, FixtureServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

HOST = "centerforborgerdialog.dk"
LISTING = "/category/inspiration-praksis/page/2/"


def _write(root: Path, relative: str, content: str | bytes) -> Path:
    file = root / relative
    file.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        file.write_bytes(content)
    else:
        file.write_text(content, encoding="utf-8")
    return file


@pytest.fixture
def root(tmp_path: Path) -> Path:
    one, two = "snapshot-1", "snapshot-2"
    _write(tmp_path, f"{one}/{HOST}{LISTING}index.html", "<h1>page two</h1>")
    _write(tmp_path, f"{one}/{HOST}/index.html", "<h1>home</h1>")
    _write(tmp_path, f"{one}/{HOST}/robots.txt", "User-agent: *\nDisallow: /wp-admin/\n")
    _write(tmp_path, f"{one}/{HOST}/wp-json/wp/v2/posts", "[]")
    _write(tmp_path, f"{one}/{HOST}/wp-json/wp/v2/posts?page=2&per_page=100", '[{"id": 2}]')
    _write(tmp_path, f"{one}/{HOST}/legacy.html", "<meta charset=iso-8859-1>")
    _write(tmp_path, f"{one}/{HOST}/maintenance.html", "down for a bit")
    headers = {
        "/old/": {"status": 301, "Location": "/new/"},
        "/legacy.html": {"Content-Type": "text/html"},
        "/maintenance.html": {"status": 503, "Retry-After": "120"},
    }
    _write(tmp_path, f"{one}/{HOST}/_headers.json", json.dumps(headers))
    _write(tmp_path, f"{one}/knoca.eu/index.html", "bare knoca")
    _write(tmp_path, f"{one}/www.knoca.eu/index.html", "www knoca")
    _write(tmp_path, f"{two}/{HOST}{LISTING}index.html", "<h1>page two, edited</h1>")
    return tmp_path


@pytest.fixture
def server(root: Path) -> Iterator[FixtureServer]:
    with FixtureServer(root, snapshot="snapshot-1") as running:
        yield running


@pytest.fixture
def client(server: FixtureServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers={"Host": HOST}) as http:
        yield http


def test_routes_by_host_header_keeping_www_and_ignoring_port(server: FixtureServer) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        bare = http.get("/", headers={"Host": "knoca.eu"})
        www = http.get("/", headers={"Host": "www.knoca.eu:8443"})
        unknown = http.get("/", headers={"Host": "example.org"})
    assert (bare.status_code, bare.text) == (200, "bare knoca")
    assert (www.status_code, www.text) == (200, "www knoca")
    assert unknown.status_code == 404
    assert server.hosts() == [HOST, "knoca.eu", "www.knoca.eu"]


def test_trailing_slash_serves_index_html(client: httpx.Client) -> None:
    response = client.get(LISTING)
    assert response.status_code == 200
    assert response.text == "<h1>page two</h1>"
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_directory_without_slash_redirects_keeping_the_query(client: httpx.Client) -> None:
    response = client.get(LISTING.rstrip("/"), params={"utm": "x"})
    assert response.status_code == 301
    assert response.headers["location"] == f"{LISTING}?utm=x"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/wp-json/wp/v2/posts?page=2&per_page=100", '[{"id": 2}]'),
        ("/wp-json/wp/v2/posts?page=3&per_page=100", "[]"),  # no such file: query ignored
        ("/wp-json/wp/v2/posts", "[]"),
    ],
)
def test_query_string_names_a_file_else_falls_back(
    client: httpx.Client, url: str, expected: str
) -> None:
    response = client.get(url)
    assert (response.status_code, response.text) == (200, expected)


def test_missing_file_is_404_with_html_and_robots_is_served(client: httpx.Client) -> None:
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
    assert "/no/such/page/" in missing.text
    robots = client.get("/robots.txt")
    assert robots.headers["content-type"] == "text/plain; charset=utf-8"
    assert "Disallow: /wp-admin/" in robots.text


def test_missing_robots_is_404(server: FixtureServer) -> None:
    with httpx.Client(base_url=server.base_url, headers={"Host": "knoca.eu"}) as http:
        assert http.get("/robots.txt").status_code == 404


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("feed.xml", "application/xml"),
        ("data.json", "application/json"),
        ("feed.rss", "application/rss+xml"),
        ("feed.atom", "application/atom+xml"),
        ("sitemap.xml.gz", "application/gzip"),
        ("blob.bin", "application/octet-stream"),
    ],
)
def test_content_type_follows_the_extension(root: Path, name: str, content_type: str) -> None:
    _write(root, f"snapshot-1/{HOST}/files/{name}", b"x")
    with FixtureServer(root, snapshot="snapshot-1") as server, httpx.Client() as http:
        response = http.get(f"{server.base_url}/files/{name}", headers={"Host": HOST})
    assert response.headers["content-type"] == content_type


def test_sidecar_overrides_status_and_headers_and_is_never_served(client: httpx.Client) -> None:
    moved = client.get("/old/")
    assert (moved.status_code, moved.headers["location"]) == (301, "/new/")
    legacy = client.get("/legacy.html")
    assert legacy.headers["content-type"] == "text/html"
    down = client.get("/maintenance.html")
    assert (down.status_code, down.headers["retry-after"], down.text) == (
        503,
        "120",
        "down for a bit",
    )
    assert client.get("/_headers.json").status_code == 404


def test_path_traversal_stays_inside_the_host(client: httpx.Client) -> None:
    assert client.get("/%2e%2e/knoca.eu/index.html").status_code == 404
    assert client.get("/..%2f..%2fsnapshot-2/").status_code == 404


def test_etag_and_if_none_match_give_304(client: httpx.Client) -> None:
    first = client.get(LISTING)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 18
    again = client.get(LISTING, headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == etag
    other = client.get(LISTING, headers={"If-None-Match": '"0000000000000000"'})
    assert other.status_code == 200


def test_if_modified_since_compares_with_last_modified(client: httpx.Client) -> None:
    last_modified = client.get(LISTING).headers["last-modified"]
    assert client.get(LISTING, headers={"If-Modified-Since": last_modified}).status_code == 304
    older = "Sat, 01 Jan 2000 00:00:00 GMT"
    assert client.get(LISTING, headers={"If-Modified-Since": older}).status_code == 200
    # If-None-Match wins when both are sent.
    both = {"If-Modified-Since": last_modified, "If-None-Match": '"different"'}
    assert client.get(LISTING, headers=both).status_code == 200


def test_validators_depend_on_content_not_mtime(root: Path, client: httpx.Client) -> None:
    before = client.get(LISTING).headers
    os.utime(root / f"snapshot-1/{HOST}{LISTING}index.html", (1_000_000, 1_000_000))
    after = client.get(LISTING).headers
    assert (before["etag"], before["last-modified"]) == (after["etag"], after["last-modified"])


def test_snapshot_switch_changes_content_and_etag(
    server: FixtureServer, client: httpx.Client
) -> None:
    first = client.get(LISTING)
    server.snapshot = "snapshot-2"
    second = client.get(LISTING, headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200
    assert second.text == "<h1>page two, edited</h1>"
    assert second.headers["etag"] != first.headers["etag"]
    with pytest.raises(ValueError, match="snapshot"):
        server.snapshot = "snapshot-9"
    assert server.snapshot == "snapshot-2"


def test_scripted_faults_are_consumed_in_order_then_normal(
    server: FixtureServer, client: httpx.Client
) -> None:
    server.script(
        HOST,
        "/wp-json/wp/v2/posts",
        [Fault(), Fault(status=429, headers={"Retry-After": "7"}, body=b"slow down")],
    )
    first = client.get("/wp-json/wp/v2/posts?page=2&per_page=100")  # any query matches
    second = client.get("/wp-json/wp/v2/posts")
    third = client.get("/wp-json/wp/v2/posts")
    assert first.status_code == 500
    assert (second.status_code, second.headers["retry-after"], second.text) == (
        429,
        "7",
        "slow down",
    )
    assert (third.status_code, third.text) == (200, "[]")
    assert client.get(LISTING).status_code == 200  # other paths were never affected


def test_reset_fault_drops_the_connection(server: FixtureServer, client: httpx.Client) -> None:
    server.script(HOST, LISTING, [Fault(reset=True)])
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(LISTING)
    assert client.get(LISTING).status_code == 200
    assert [r.status for r in server.requests_for(HOST, LISTING)] == [0, 200]


def test_delay_fault_times_out_and_does_not_block_shutdown(root: Path) -> None:
    server = FixtureServer(root, snapshot="snapshot-1")
    server.start()
    try:
        server.script(HOST, LISTING, [Fault(status=200, delay=30.0)])
        with httpx.Client(base_url=server.base_url, headers={"Host": HOST}) as http:
            with pytest.raises(httpx.ReadTimeout):
                http.get(LISTING, timeout=0.2)
            started = time.monotonic()
    finally:
        server.stop()
    assert time.monotonic() - started < 5.0


def test_latency_applies_to_every_request_and_is_cut_short_by_stop(root: Path) -> None:
    server = FixtureServer(root, snapshot="snapshot-1")
    server.start()
    server.latency = 30.0
    started = time.monotonic()
    try:
        with (
            httpx.Client(base_url=server.base_url, headers={"Host": HOST}) as http,
            pytest.raises(httpx.ReadTimeout),
        ):
            http.get("/robots.txt", timeout=0.2)
    finally:
        server.stop()
    assert time.monotonic() - started < 5.0


def test_stop_closes_idle_keep_alive_connections(root: Path) -> None:
    server = FixtureServer(root, snapshot="snapshot-1")
    server.start()
    with httpx.Client(base_url=server.base_url, headers={"Host": HOST}) as http:
        assert http.get(LISTING).status_code == 200
        assert http.get(LISTING).status_code == 200  # same pooled connection
        started = time.monotonic()
        server.stop()  # the client still holds its connection open
        assert time.monotonic() - started < 5.0


def test_requests_are_recorded_with_headers(server: FixtureServer, client: httpx.Client) -> None:
    client.get("/wp-json/wp/v2/posts?page=2&per_page=100", headers={"User-Agent": "radar/0.1"})
    client.head(LISTING)
    client.get("/robots.txt", headers={"Host": "knoca.eu"})
    api, head = server.requests_for(HOST)
    assert (api.method, api.host, api.path) == ("GET", HOST, "/wp-json/wp/v2/posts")
    assert api.query == "page=2&per_page=100"
    assert api.headers["user-agent"] == "radar/0.1"
    assert (api.status, api.bytes_sent) == (200, len('[{"id": 2}]'))
    assert (head.method, head.status, head.bytes_sent) == ("HEAD", 200, 0)
    assert api.time <= head.time
    assert [r.status for r in server.requests_for("knoca.eu", "/robots.txt")] == [404]
    server.clear_requests()
    assert server.requests == []


def test_head_sends_headers_only_and_other_methods_are_refused(client: httpx.Client) -> None:
    head = client.head(LISTING)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len("<h1>page two</h1>"))
    refused = client.post(LISTING, content=b"x")
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")


def test_loopback_host_browses_with_the_host_as_first_segment(server: FixtureServer) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        page = http.get(f"/{HOST}{LISTING}")
        index = http.get("/")
        moved = http.get(f"/{HOST}{LISTING.rstrip('/')}")
        sidecar_redirect = http.get(f"/{HOST}/old/")
    assert (page.status_code, page.text) == (200, "<h1>page two</h1>")
    assert f'href="/{HOST}/"' in index.text
    assert moved.headers["location"] == f"/{HOST}{LISTING}"
    assert sidecar_redirect.headers["location"] == f"/{HOST}/new/"
    assert server.requests_for(HOST, LISTING)[0].path == LISTING


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org", "::"])
def test_refuses_to_bind_outside_loopback(root: Path, host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        FixtureServer(root, snapshot="snapshot-1", host=host)


def test_properties_describe_the_bound_address(server: FixtureServer) -> None:
    assert server.port > 0
    assert server.address == f"127.0.0.1:{server.port}"
    assert server.base_url == f"http://127.0.0.1:{server.port}"


def test_broken_sidecar_is_a_loud_500(root: Path, server: FixtureServer) -> None:
    _write(root, "snapshot-1/knoca.eu/_headers.json", "{not json")
    with httpx.Client(base_url=server.base_url, headers={"Host": "knoca.eu"}) as http:
        response = http.get("/")
    assert response.status_code == 500
    assert "Fixture error" in response.text
