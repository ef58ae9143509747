"""Operations alerts: pure messages, and real delivery to loopback SMTP and webhook servers.

A source that fails again and again alerts once per change of health (degraded, failing,
recovered), never once per run; a channel that fails never fails the run; no secret is
ever in a message or a log line.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from radar import alerts
from radar.alerts import HealthChange, build_email, build_payload, wanted
from radar.runner import run_once
from radar.settings_ops import AlertSettings
from scraper.spec import HealthRule
from tests.conftest import ROOT, shipped_config
from tests.test_schedule import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from email.message import EmailMessage
    from pathlib import Path

    from radar.fixture_server import FixtureServer

PASSWORD = "s3cret-smtp-pw"
TOKEN = "tok-very-secret"
RECIPIENTS = ("drift@example.dk", "it@example.dk")
SENDER = "radar@centerforborgerdialog.dk"
AT = dt.datetime(2026, 3, 9, 5, 15, tzinfo=dt.UTC)


def change(
    previous: str, current: str, failures: int = 0, error: str | None = None
) -> HealthChange:
    return HealthChange(
        source="knoca",
        title="KNOCA – Knowledge Network on Climate Assemblies",
        previous=previous,
        current=current,
        failures=failures,
        status="failed" if failures else "ok",
        error=error,
        run_id=12,
        at=AT,
    )


# --- Pure: what is sent, and when ---


def test_alerts_go_out_for_the_states_asked_for() -> None:
    every = AlertSettings(emails=RECIPIENTS)
    quiet = AlertSettings(emails=RECIPIENTS, states=("failing", "recovered"))

    assert wanted(change("ok", "degraded"), every)
    assert wanted(change("degraded", "failing"), every)
    assert wanted(change("failing", "recovered"), every)
    assert not wanted(change("recovered", "ok"), every)
    assert not wanted(change("ok", "degraded"), quiet)
    assert not wanted(change("degraded", "recovered"), quiet)  # its trouble was never told
    assert wanted(change("failing", "recovered"), quiet)


def test_the_email_is_danish_names_the_source_and_the_error() -> None:
    settings = AlertSettings(emails=RECIPIENTS)
    failing = change("degraded", "failing", 3, "[knoca] https://www.knoca.eu/resources: HTTP 404")

    message = build_email(failing, settings, sender=SENDER, timezone=dt.UTC)

    assert message["Subject"] == "[Inspiration Radar] knoca fejler: 3 mislykkede kørsler i træk"
    assert message["To"] == "drift@example.dk, it@example.dk"
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert "har skiftet tilstand: har problemer → fejler" in body
    assert "Mislykkede kørsler i træk: 3" in body
    assert "radar check --source knoca" in body
    assert "HTTP 404" in body
    assert "aldrig i redaktionens feeds" in body


def test_a_database_password_in_an_error_is_masked() -> None:
    leaky = change("ok", "degraded", 1, "storage: postgresql://radar:hunter22@db/radar refused")

    body = build_email(leaky, AlertSettings(emails=RECIPIENTS), sender=SENDER).get_content()
    payload = build_payload(leaky)

    assert "hunter22" not in body and "hunter22" not in json.dumps(payload)
    assert "postgresql://radar:***@db/radar" in body


def test_the_webhook_payload_is_json_with_a_chat_readable_text() -> None:
    payload = build_payload(change("failing", "recovered"), language="en")

    assert payload["event"] == "source_health_changed"
    assert (payload["source"], payload["previous"], payload["health"]) == (
        "knoca",
        "failing",
        "recovered",
    )
    assert payload["text"] == "[Inspiration Radar] knoca recovered"
    assert payload["at"] == "2026-03-09T05:15:00+00:00"
    json.dumps(payload)


# --- Loopback servers ---


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"radar",
        PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, dict[str, str]]]:
    """A real SMTP server on 127.0.0.1 that requires the login, and the env to reach it."""
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    env = {
        "RADAR_SMTP_HOST": "127.0.0.1",
        "RADAR_SMTP_PORT": str(port),
        "RADAR_SMTP_SECURITY": "none",
        "RADAR_SMTP_USER": "radar",
        "RADAR_SMTP_PASSWORD": PASSWORD,
        "RADAR_SMTP_FROM": SENDER,
    }
    try:
        yield inbox, env
    finally:
        controller.stop()


class Webhook:
    """A JSON endpoint on 127.0.0.1 that keeps each POST and answers `status`."""

    def __init__(self, status: int = 204) -> None:
        self.posts: list[tuple[dict[str, str], dict[str, Any]]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append((dict(self.headers), json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/radar"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with Webhook() as hook:
        yield hook


@pytest.fixture(autouse=True)
def _no_alerts_left_installed() -> Iterator[None]:
    yield
    alerts.install(None)


# --- End to end: the pipeline, its health, and the real channels ---


def test_one_alert_per_transition_across_repeated_failing_runs(
    fixture_sites: FixtureServer,
    smtp_server: tuple[Inbox, dict[str, str]],
    webhook: Webhook,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    inbox, env = smtp_server
    config = shipped_config()
    spec = config.source("knoca").model_copy(update={"health": HealthRule(failing_after=2)})
    settings = AlertSettings(emails=RECIPIENTS, webhook=webhook.url)
    alerts.install(settings, environ={**env, "RADAR_ALERT_WEBHOOK_TOKEN": TOKEN})
    hosts = {host: fixture_sites.address for host in fixture_sites.hosts()}
    url = f"sqlite:///{tmp_path / 'radar.db'}"

    statuses = []
    for snapshot in ["snapshot-1", *["snapshot-3"] * 4, "snapshot-1", "snapshot-1"]:
        fixture_sites.snapshot = snapshot  # snapshot-3 has no www.knoca.eu: 404, a failed run
        [outcome] = run_once(config, [spec], database_url=url, host_map=hosts)
        statuses.append(str(outcome.status))

    assert statuses == ["baseline", *["failed"] * 4, "unchanged", "unchanged"]
    subjects = [message["Subject"] for _, message in inbox.received]
    assert subjects == [
        "[Inspiration Radar] knoca har problemer",
        "[Inspiration Radar] knoca fejler: 2 mislykkede kørsler i træk",
        "[Inspiration Radar] knoca virker igen",
    ]
    for recipients, message in inbox.received:
        assert recipients == list(RECIPIENTS)
        assert message["From"] == SENDER
        assert "Kilden »KNOCA – Knowledge Network on Climate Assemblies« (knoca)" in (
            message.get_content()
        )
        assert PASSWORD not in message.as_string() and TOKEN not in message.as_string()
    assert [payload["health"] for _, payload in webhook.posts] == [
        "degraded",
        "failing",
        "recovered",
    ]
    assert {headers["Authorization"] for headers, _ in webhook.posts} == {f"Bearer {TOKEN}"}
    assert PASSWORD not in caplog.text and TOKEN not in caplog.text


def test_failing_channels_are_logged_and_never_fail_the_run(
    fixture_sites: FixtureServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = shipped_config()
    spec = config.source("knoca").model_copy(update={"health": HealthRule(failing_after=1)})
    env = {
        "RADAR_SMTP_HOST": "127.0.0.1",
        "RADAR_SMTP_PORT": str(free_port()),
        "RADAR_SMTP_SECURITY": "none",
        "RADAR_SMTP_FROM": SENDER,
    }
    fixture_sites.snapshot = "snapshot-3"
    hosts = {host: fixture_sites.address for host in ["www.knoca.eu"]}

    with Webhook(status=500) as broken:
        alerts.install(AlertSettings(emails=RECIPIENTS, webhook=broken.url), environ=env)
        [outcome] = run_once(
            config, [spec], database_url=f"sqlite:///{tmp_path / 'radar.db'}", host_map=hosts
        )

    assert str(outcome.status) == "failed"
    assert len(broken.posts) == 1
    assert "[knoca] alert e-mail not sent via 127.0.0.1" in caplog.text
    assert "[knoca] alert webhook not delivered: HTTP Error 500" in caplog.text


def test_radar_run_alerts_with_smtp_settings_from_the_environment_only(
    fixture_sites: FixtureServer, smtp_server: tuple[Inbox, dict[str, str]], tmp_path: Path
) -> None:
    inbox, env = smtp_server
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw.pop("catalogue", None)
    raw["sources"] = [
        {**s, "health": {"failing_after": 1}} for s in raw["sources"] if s["name"] == "knoca"
    ]
    raw["alerts"] = {"emails": ["drift@example.dk"]}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    fixture_sites.snapshot = "snapshot-3"

    result = subprocess.run(
        [
            *(sys.executable, "-m", "radar", "--log-format", "json", "--log-level", "info"),
            *("run", "--config", str(config)),
            *("--resolve", f"www.knoca.eu={fixture_sites.address}"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "RADAR_DATABASE_URL": f"sqlite:///{tmp_path / 'radar.db'}"},
        cwd=ROOT,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1, result.stderr
    [(recipients, message)] = inbox.received
    assert recipients == ["drift@example.dk"]
    assert message["Subject"] == "[Inspiration Radar] knoca fejler: 1 mislykket kørsel"
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("[knoca] alert e-mail sent") for line in logged)
    assert PASSWORD not in result.stderr and PASSWORD not in config.read_text(encoding="utf-8")
