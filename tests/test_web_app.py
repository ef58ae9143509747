"""The review page without a browser: login, CSRF, no state change on GET, cookies, escaping,
the decisions and the public feed, and `radar user …`. Requests go over real HTTP (httpx) to
the app served by uvicorn on 127.0.0.1, on real databases."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import feedparser
import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from radar.cli import main
from radar.config import RadarConfig
from radar.web import accounts
from radar.web.accounts import add_editor
from radar.web.app import WebSettings, create_app, session_secret
from radar.web.security import LoginThrottle
from storage.models import Editor, Item, Run, Source, utcnow
from tests.conftest import shipped_config
from tests.db_fixtures import html_spec, make_item, record

if TYPE_CHECKING:
    from collections.abc import Iterator

    from starlette.applications import Starlette

PASSWORD = "korrekt-hest-batteri"
HOSTILE = '<script>alert("x")</script> & <b>fed</b>'
SPEC = html_spec("example", title="Eksempelkilden")
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_config(feeds: Path) -> RadarConfig:
    config = shipped_config()
    feed = config.feed.model_copy(update={"out_dir": feeds})
    return config.model_copy(update={"sources": (SPEC,), "catalogue": None, "feed": feed})


SEED = make_item("seed", "Gammel nyhed")
NEWS = (
    make_item("a", "Borgersamlinger i praksis", summary="Deliberation i kommunen"),
    make_item("b", "Skattepolitik 2025", summary="Satser og fradrag"),
    make_item("c", HOSTILE, language="en"),
    make_item("d", "Webinar om samskabelse", summary="Tilmelding"),
)
# What the source lists after its third run: "d" has a new title.
PRESENT = (
    SEED,
    *NEWS[:3],
    make_item("d", "Webinar om samskabelse i praksis", summary="Tilmelding"),
)


def fill(engine: Engine) -> dict[str, int]:
    """A baseline, then four announced items; one of them changed in a third run."""
    record(engine, SPEC, [SEED])
    record(engine, SPEC, [SEED, *NEWS])
    record(engine, SPEC, PRESENT)
    with Session(engine) as session:
        return {item.key: item.id for item in session.exec(select(Item)) if item.id}


def states(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with Session(engine) as session:
        return {i.key: (i.review_state, i.reviewed_by) for i in session.exec(select(Item))}


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real Argon2id, with parameters fit for tests rather than for attackers."""
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024))


@pytest.fixture
def feeds(tmp_path: Path) -> Path:
    return tmp_path / "feeds"


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """The app on a free port of 127.0.0.1 in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Any]:
    """make_client(engine, feeds, **WebSettings): an httpx client of a live server."""
    with contextlib.ExitStack() as stack:

        def make(
            engine: Engine, feeds: Path, config: RadarConfig | None = None, **settings: Any
        ) -> httpx.Client:
            values: dict[str, Any] = {"secret": "s" * 40, "failed_login_delay": 0.0}
            values.update(settings)
            app = create_app(engine, config or web_config(feeds), WebSettings(**values))
            base = stack.enter_context(serving(app))
            return stack.enter_context(httpx.Client(base_url=base, follow_redirects=False))

        yield make


@pytest.fixture
def sqlite_engine(sqlite_factory: Any) -> Iterator[Engine]:
    """A fresh migrated SQLite database, copied from one migrated per session (faster)."""
    with sqlite_factory() as engine:
        yield engine


@pytest.fixture
def ids(sqlite_engine: Engine) -> dict[str, int]:
    add_editor(sqlite_engine, "anna", PASSWORD)
    return fill(sqlite_engine)


@pytest.fixture
def client(
    sqlite_engine: Engine, ids: dict[str, int], feeds: Path, make_client: Any
) -> httpx.Client:
    client: httpx.Client = make_client(sqlite_engine, feeds)
    return client


def token(client: httpx.Client, path: str = "/login") -> str:
    match = TOKEN.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: httpx.Client, username: str = "anna", password: str = PASSWORD) -> Any:
    data = {"csrf_token": token(client), "username": username, "password": password}
    return client.post("/login", data=data)


def decide(client: httpx.Client, action: str, *items: int, **extra: Any) -> Any:
    data: dict[str, Any] = {"csrf_token": token(client, "/"), "action": action, "item": items}
    data.update(extra)
    return client.post("/decide", data=data)


def test_every_page_needs_a_login(client: httpx.Client, ids: dict[str, int]) -> None:
    for path in ("/", "/sources", "/?state=alle"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    refused = client.post("/decide", data={"action": "accept", "item": ids["a"]})
    assert refused.status_code == 403


def test_a_wrong_password_or_unknown_user_is_refused(
    client: httpx.Client, sqlite_engine: Engine
) -> None:
    for username, password in (("anna", "forkert-kodeord"), ("bent", PASSWORD), ("anna", "")):
        response = login(client, username, password)
        assert response.status_code == 401
        assert "Forkert brugernavn eller adgangskode" in response.text
        assert client.get("/").status_code == 303
    with Session(sqlite_engine) as session:
        assert session.exec(select(Editor.last_login_at)).one() is None


def test_failed_logins_are_throttled(
    sqlite_engine: Engine, ids: dict[str, int], feeds: Path, make_client: Any
) -> None:
    now = [0.0]
    throttle = LoginThrottle(limit=2, window=60, clock=lambda: now[0])
    client = make_client(sqlite_engine, feeds, throttle=throttle)
    assert login(client, password="forkert-1").status_code == 401
    assert login(client, password="forkert-2").status_code == 401
    blocked = login(client)  # even the right password waits now
    assert blocked.status_code == 429 and "For mange" in blocked.text
    now[0] = 61.0
    assert login(client).status_code == 303


def test_login_records_it_and_sets_a_safe_cookie(
    client: httpx.Client, sqlite_engine: Engine
) -> None:
    response = login(client)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert client.get("/").status_code == 200
    with Session(sqlite_engine) as session:
        editor = session.exec(select(Editor)).one()
        assert editor.last_login_at is not None
        assert (
            editor.password_hash.startswith("$argon2id$") and PASSWORD not in editor.password_hash
        )


def test_over_https_the_cookie_is_secure(
    sqlite_engine: Engine, ids: dict[str, int], feeds: Path, make_client: Any
) -> None:
    client = make_client(sqlite_engine, feeds, https=True)
    response = login(client)
    assert "secure" in response.headers["set-cookie"].lower()
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_security_headers(client: httpx.Client) -> None:
    login(client)
    for path in ("/", "/login", "/sources", "/static/review.css"):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_get_never_changes_state(
    client: httpx.Client, sqlite_engine: Engine, ids: dict[str, int], feeds: Path
) -> None:
    login(client)
    before = states(sqlite_engine)
    for path in (
        f"/decide?action=accept&item={ids['a']}",
        "/logout",
        "/login",
        f"/?action=accept&item={ids['a']}",
        "/sources",
        "/?state=alle&q=praksis&page=2",
    ):
        assert client.get(path).status_code in (200, 303, 405), path
    assert states(sqlite_engine) == before
    assert not feeds.exists()
    assert client.get("/").status_code == 200  # GET /logout did not log out


def test_a_post_without_the_right_token_or_from_another_site_is_refused(
    client: httpx.Client, sqlite_engine: Engine, ids: dict[str, int]
) -> None:
    login(client)
    good = token(client, "/")
    item = ids["a"]
    attempts: list[tuple[dict[str, Any], dict[str, str]]] = [
        ({"action": "accept", "item": item}, {}),
        ({"action": "accept", "item": item, "csrf_token": "gæt"}, {}),
        ({"action": "accept", "item": item, "csrf_token": good}, {"origin": "https://evil.test"}),
        ({"action": "accept", "item": item, "csrf_token": good}, {"origin": "null"}),
        (
            {"action": "accept", "item": item, "csrf_token": good},
            {"referer": "https://evil.test/page"},
        ),
        ({"action": "accept", "item": item, "csrf_token": good}, {"sec-fetch-site": "cross-site"}),
    ]
    for data, headers in attempts:
        response = client.post("/decide", data=data, headers=headers)
        assert response.status_code == 403, (data, headers)
    assert states(sqlite_engine)["a"] == ("new", None)
    same_site = {"origin": str(client.base_url).rstrip("/"), "sec-fetch-site": "same-origin"}
    data = {"action": "accept", "item": item, "csrf_token": good}
    assert client.post("/decide", data=data, headers=same_site).status_code == 303
    assert states(sqlite_engine)["a"] == ("accepted", "anna")


def test_logout_needs_the_token_and_ends_the_session(client: httpx.Client) -> None:
    login(client)
    assert client.post("/logout").status_code == 403
    assert client.get("/").status_code == 200
    response = client.post("/logout", data={"csrf_token": token(client, "/")})
    assert response.status_code == 303
    assert client.get("/").status_code == 303


def public_titles(feeds: Path) -> list[str]:
    parsed = feedparser.parse((feeds / "public.atom").read_bytes())
    assert not parsed.bozo
    return [entry.title for entry in parsed.entries]


def test_decisions_follow_the_command_line_and_rewrite_the_public_feed(
    client: httpx.Client, sqlite_engine: Engine, ids: dict[str, int], feeds: Path
) -> None:
    login(client)
    response = decide(client, "accept", ids["a"], back="state=new")
    assert response.status_code == 303 and response.headers["location"] == "/?state=new"
    assert public_titles(feeds) == ["Borgersamlinger i praksis"]
    page = client.get("/").text
    assert "1 element godkendt" in page and 'value="undo"' in page

    decide(client, "dismiss", ids["b"], ids["d"])
    decide(client, "duplicate", ids["c"], duplicate_of=str(ids["a"]))
    assert states(sqlite_engine) == {
        "seed": ("new", None),
        "a": ("accepted", "anna"),
        "b": ("dismissed", "anna"),
        "c": ("duplicate", "anna"),
        "d": ("dismissed", "anna"),
    }
    assert "Ingen elementer matcher" in client.get("/").text

    decide(client, "undo", ids["a"], ids["b"])
    assert states(sqlite_engine)["a"] == ("new", None)
    assert public_titles(feeds) == []


def test_bad_decisions_are_explained_not_saved(
    client: httpx.Client, sqlite_engine: Engine, ids: dict[str, int]
) -> None:
    login(client)
    before = states(sqlite_engine)
    decide(client, "duplicate", ids["a"], duplicate_of=str(ids["a"]))
    assert "Ikke gemt" in client.get("/").text
    decide(client, "duplicate", ids["a"])
    assert "Angiv nummeret på originalen" in client.get("/").text
    decide(client, "accept")
    assert "Vælg mindst ét element" in client.get("/").text
    decide(client, "accept", 999_999)
    assert "Ikke gemt" in client.get("/").text
    assert states(sqlite_engine) == before


def test_the_queue_shows_hostile_text_as_text_and_links_only_http(
    client: httpx.Client, ids: dict[str, int], sqlite_engine: Engine
) -> None:
    with Session(sqlite_engine) as session:
        item = session.get(Item, ids["b"])
        assert item is not None
        item.url = "javascript:alert(1)"
        session.add(item)
        session.commit()
    login(client)
    page = client.get("/").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;fed&lt;/b&gt;" in page
    assert "<script>alert" not in page and "<b>fed" not in page
    assert "javascript:" not in page
    assert 'href="https://example.dk/a" rel="noopener noreferrer"' in page


def test_the_queue_filters_searches_and_shows_changes(
    client: httpx.Client, ids: dict[str, int]
) -> None:
    login(client)
    page = client.get("/").text
    assert page.index("Borgersamlinger i praksis") < page.index("Skattepolitik 2025")  # relevance
    assert "Webinar om samskabelse</del> → <ins>Webinar om samskabelse i praksis" in page
    assert "Relevans" in page and "Matchede ord" in page
    searched = client.get("/?q=SKATTE").text
    assert "Skattepolitik 2025" in searched and "Borgersamlinger" not in searched
    english = client.get("/?language=en").text
    assert "&lt;script&gt;" in english and "Skattepolitik" not in english
    assert "Skattepolitik" not in client.get("/?q=100%25").text
    assert "Ingen elementer" in client.get("/?source=nowhere").text
    assert "Ingen elementer" in client.get("/?state=accepted").text


def test_items_the_catalogue_links_to_are_marked(
    sqlite_engine: Engine, ids: dict[str, int], feeds: Path, make_client: Any
) -> None:
    catalogue = html_spec("katalog", title="Kataloget")
    post = make_item("post", "Katalogpost", links=("https://example.dk/kendt",))
    record(sqlite_engine, catalogue, [post])
    known = make_item(
        "https://example.dk/kendt", "Kendt i kataloget", url="https://example.dk/kendt"
    )
    record(sqlite_engine, SPEC, [*PRESENT, known])
    config = web_config(feeds)
    config = config.model_copy(update={"sources": (SPEC, catalogue), "catalogue": "katalog"})
    client = make_client(sqlite_engine, feeds, config)
    login(client)
    page = client.get("/").text
    assert page.count("Allerede i kataloget") == 1
    assert page.index("Kendt i kataloget") < page.index("Allerede i kataloget")


def test_a_source_kept_to_its_own_feed_shows_only_when_chosen(
    sqlite_engine: Engine, ids: dict[str, int], feeds: Path, make_client: Any
) -> None:
    own = html_spec("egen", title="Egen side").model_copy(update={"shared_feeds": False})
    record(sqlite_engine, own, [make_item("flise-0", "Gammel flise")])
    record(
        sqlite_engine, own, [make_item("flise-0", "Gammel flise"), make_item("flise-1", "Ny flise")]
    )
    config = web_config(feeds).model_copy(update={"sources": (SPEC, own)})
    client = make_client(sqlite_engine, feeds, config)
    login(client)
    assert "Ny flise" not in client.get("/").text
    assert "Ny flise" in client.get("/?source=egen").text


def test_the_queue_pages(client: httpx.Client, sqlite_engine: Engine) -> None:
    many = [make_item(f"p{n}", f"Punkt {n:02d}") for n in range(30)]
    record(sqlite_engine, SPEC, [*PRESENT, *many])
    login(client)
    first = client.get("/").text
    assert "Side 1 af 2" in first and "page=2" in first
    second = client.get("/?page=2").text
    assert "Side 2 af 2" in second and second.count("<article") == 34 - 25


def test_the_sources_page_shows_health_counts_and_recent_errors(
    client: httpx.Client, sqlite_engine: Engine
) -> None:
    with Session(sqlite_engine) as session:
        source = session.exec(select(Source)).one()
        assert source.id is not None
        error = "HTTP 503 from <b>example.dk</b>"
        session.add(Run(source_id=source.id, status="failed", error=error, finished_at=utcnow()))
        session.commit()
    login(client)
    page = client.get("/sources").text
    assert "Eksempelkilden" in page and "i orden" in page and "fejlet" in page
    assert "HTTP 503 from &lt;b&gt;example.dk&lt;/b&gt;" in page


def test_the_session_secret_comes_from_the_environment(caplog: pytest.LogCaptureFixture) -> None:
    assert session_secret({"RADAR_WEB_SECRET": "x" * 40}) == "x" * 40
    made, again = session_secret({}), session_secret({})
    assert len(made) >= 40 and made != again
    assert "every session ends when the server restarts" in caplog.text


def test_radar_web_checks_its_options(tmp_path: Path) -> None:
    assert "--host" in radar("web", "--help").output
    config = str(Path(__file__).parents[1] / "config.yaml")
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    lone = radar("web", "--config", config, "--ssl-certfile", str(cert))
    assert lone.exit_code == 2
    assert radar("web", "--config", config, "--public-url", "ftp://x").exit_code == 2


def radar(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def test_radar_user_commands(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, feeds: Path, make_client: Any
) -> None:
    monkeypatch.setenv("RADAR_DATABASE_URL", sqlite_engine.url.render_as_string())
    added = radar("user", "add", "bo", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert radar("user", "add", "bo", "--password-stdin", stdin=PASSWORD + "\n").exit_code == 2
    assert radar("user", "add", "kort", "--password-stdin", stdin="kort\n").exit_code == 2
    assert radar("user", "add", "ny", stdin=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    assert radar("user", "add", "x", "--password", PASSWORD).exit_code == 2  # never in argv
    listed = radar("user", "list").output
    assert "bo\tactive\tlast login –" in listed and PASSWORD not in listed

    client = make_client(sqlite_engine, feeds)
    assert login(client, "bo").status_code == 303
    assert radar("user", "passwd", "bo", "--password-stdin", stdin="nyt-kodeord-1\n").exit_code == 0
    assert client.get("/").status_code == 303  # the old session ended
    assert login(client, "bo", PASSWORD).status_code == 401
    assert login(client, "bo", "nyt-kodeord-1").status_code == 303
    assert radar("user", "remove", "bo").exit_code == 0
    assert client.get("/").status_code == 303
    assert radar("user", "remove", "bo").exit_code == 2


def test_radar_web_serves_the_page_on_loopback(sqlite_engine: Engine, tmp_path: Path) -> None:
    """The real command in its own process: migrated database, random secret, headers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "RADAR_WEB_SECRET"}
    env["RADAR_DATABASE_URL"] = sqlite_engine.url.render_as_string()
    config = Path(__file__).parents[1] / "config.yaml"
    command = [sys.executable, "-m", "radar", "web", "--config", str(config), "--port", str(port)]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as server:
        try:
            deadline = time.monotonic() + 30
            while True:
                assert server.poll() is None, "radar web exited"
                assert time.monotonic() < deadline, "radar web did not answer"
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/login")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert response.status_code == 200 and 'lang="da"' in response.text
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert httpx.get(f"http://127.0.0.1:{port}/").headers["location"] == "/login"
        finally:
            server.terminate()
            _, errors = server.communicate(timeout=15)
    assert "RADAR_WEB_SECRET is not set" in errors
