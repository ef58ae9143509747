"""Operations alerts: a source's health changed (degraded, failing, recovered).

`radar.runs.settle` reports each change of health once (it is stored on the source), and
calls `health_changed`; an alert goes out for that change, by e-mail to `alerts.emails`
and/or as a JSON POST to `alerts.webhook`. Messages are built by pure functions
(`build_email`, `build_payload`); the senders only move them. A channel that fails is
logged and never fails the run. Alerts go to the operator, never into the editors' feeds.

SMTP settings come from the environment only (never config.yaml, never the logs), read
by radar.smtp as for the digests: RADAR_SMTP_HOST, RADAR_SMTP_PORT, RADAR_SMTP_USER,
RADAR_SMTP_PASSWORD, RADAR_SMTP_SECURITY (starttls | tls | none), RADAR_SMTP_FROM. The
webhook's secret header value comes from RADAR_ALERT_WEBHOOK_TOKEN.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

from radar.logs import redact, secret_values
from radar.smtp import MailError, SmtpSettings, connect, send

if TYPE_CHECKING:
    from collections.abc import Mapping

    from radar.runs import RunOutcome
    from radar.settings_ops import AlertSettings
    from scraper.spec import SourceSpec

log = logging.getLogger(__name__)

WEBHOOK_TOKEN_ENV = "RADAR_ALERT_WEBHOOK_TOKEN"


@dataclass(frozen=True, slots=True)
class HealthChange:
    """One change of a source's health, as settle saw it."""

    source: str
    title: str
    previous: str
    current: str
    failures: int
    status: str
    error: str | None
    run_id: int | None
    at: dt.datetime


def wanted(change: HealthChange, settings: AlertSettings) -> bool:
    """Alert on the states asked for; "recovered" only after a state that was alerted."""
    if change.current == "recovered":
        return "recovered" in settings.states and change.previous in settings.states
    return change.current in settings.states


TEXTS: dict[str, dict[str, str]] = {
    "da": {
        "ok": "i orden",
        "degraded": "har problemer",
        "failing": "fejler",
        "recovered": "virker igen",
        "subject": "[Inspiration Radar] {name} {state}",
        "subject_failing": "[Inspiration Radar] {name} fejler: {runs}",
        "runs_one": "1 mislykket kørsel",
        "runs_many": "{failures} mislykkede kørsler i træk",
        "intro": "Kilden »{title}« ({name}) har skiftet tilstand: {before} → {after}.",
        "run": "Seneste kørsel: {status} (kørsel nr. {run_id})",
        "error": "Fejl: {error}",
        "failures": "Mislykkede kørsler i træk: {failures}",
        "time": "Tidspunkt: {time}",
        "advice_degraded": "Én kørsel gik galt. Det går ofte over af sig selv; bliver det "
        "ved, skifter kilden til »fejler«, og du får besked igen.",
        "advice_failing": "Kilden er ikke blevet læst ordentligt i flere kørsler. Kør "
        "`radar check --source {name}` for at se, om siden er lavet om, og `radar status` "
        "for detaljer.",
        "advice_recovered": "Kilden blev læst uden fejl igen. Der skal ikke gøres noget.",
        "footer": "Dette er en driftsbesked til den, der driver Inspiration Radar. "
        "Den kommer aldrig i redaktionens feeds.",
    },
    "en": {
        "ok": "ok",
        "degraded": "degraded",
        "failing": "failing",
        "recovered": "recovered",
        "subject": "[Inspiration Radar] {name} {state}",
        "subject_failing": "[Inspiration Radar] {name} failing: {runs}",
        "runs_one": "1 bad run",
        "runs_many": "{failures} bad runs in a row",
        "intro": "The source “{title}” ({name}) changed health: {before} → {after}.",
        "run": "Last run: {status} (run {run_id})",
        "error": "Error: {error}",
        "failures": "Bad runs in a row: {failures}",
        "time": "Time: {time}",
        "advice_degraded": "One run went wrong. This often passes; if it goes on, the "
        "source becomes “failing” and you will hear again.",
        "advice_failing": "The source has not been read properly for several runs. Run "
        "`radar check --source {name}` to see whether the page changed, and `radar status`.",
        "advice_recovered": "The source was read without errors again. Nothing to do.",
        "footer": "This is an operations message for whoever runs Inspiration Radar. "
        "It never appears in the editors' feeds.",
    },
}


def subject_of(change: HealthChange, language: str = "da") -> str:
    text = TEXTS[language]
    key = "subject_failing" if change.current == "failing" else "subject"
    runs = text["runs_one" if change.failures == 1 else "runs_many"]
    return text[key].format(
        name=change.source,
        state=text[change.current],
        runs=runs.format(failures=change.failures),
    )


def body_of(change: HealthChange, *, language: str = "da", timezone: dt.tzinfo = dt.UTC) -> str:
    text = TEXTS[language]
    local = change.at.astimezone(timezone)
    lines = [
        text["intro"].format(
            title=change.title,
            name=change.source,
            before=text.get(change.previous, change.previous),
            after=text[change.current],
        ),
        "",
        text["run"].format(status=change.status, run_id=change.run_id or "–"),
    ]
    if change.error:
        lines.append(text["error"].format(error=redact(change.error, secret_values())))
    lines += [
        text["failures"].format(failures=change.failures),
        text["time"].format(time=f"{local:%Y-%m-%d %H:%M} ({local.tzname()})"),
        "",
        text[f"advice_{change.current}"].format(name=change.source),
        "",
        "-- ",
        text["footer"],
    ]
    return "\n".join(lines) + "\n"


def build_email(
    change: HealthChange,
    settings: AlertSettings,
    *,
    sender: str,
    timezone: dt.tzinfo = dt.UTC,
) -> EmailMessage:
    """The alert as an e-mail to `settings.emails`."""
    message = EmailMessage()
    message["Subject"] = subject_of(change, settings.language)
    message["From"] = sender
    message["To"] = ", ".join(settings.emails)
    message["Date"] = formatdate(change.at.timestamp(), localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body_of(change, language=settings.language, timezone=timezone))
    return message


def build_payload(change: HealthChange, *, language: str = "da") -> dict[str, Any]:
    """The alert as a JSON object; `text` makes it readable by chat webhooks as it is."""
    return {
        "event": "source_health_changed",
        "source": change.source,
        "title": change.title,
        "previous": change.previous,
        "health": change.current,
        "failures": change.failures,
        "status": change.status,
        "error": redact(change.error, secret_values()) if change.error else None,
        "run_id": change.run_id,
        "at": change.at.astimezone(dt.UTC).isoformat(),
        "text": subject_of(change, language),
    }


def post_json(
    url: str, payload: dict[str, Any], *, headers: dict[str, str], timeout: float
) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "InspirationRadar-alerts",
            **headers,
        },
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # 4xx/5xx raise
        response.read(65536)


class Alerter:
    """Sends each wanted health change through the configured channels."""

    def __init__(
        self,
        settings: AlertSettings,
        *,
        environ: Mapping[str, str] | None = None,
        timezone: dt.tzinfo = dt.UTC,
    ) -> None:
        env = os.environ if environ is None else environ
        self.settings = settings
        self.timezone = timezone
        self.smtp: SmtpSettings | None = None
        if settings.emails:
            try:
                self.smtp = replace(SmtpSettings.from_env(dict(env)), timeout=settings.timeout)
            except MailError as exc:
                log.error("alert e-mails cannot be sent: %s", exc)
        token = env.get(WEBHOOK_TOKEN_ENV)
        self._webhook_headers = {}
        if token:
            prefix = "Bearer " if settings.webhook_header.lower() == "authorization" else ""
            self._webhook_headers[settings.webhook_header] = prefix + token

    def __call__(self, change: HealthChange) -> None:
        if not wanted(change, self.settings):
            return
        if self.smtp is not None:
            self._email(change, self.smtp)
        if self.settings.webhook:
            self._webhook(change, self.settings.webhook)

    def _email(self, change: HealthChange, smtp: SmtpSettings) -> None:
        message = build_email(change, self.settings, sender=smtp.sender, timezone=self.timezone)
        try:
            with connect(smtp) as client:
                send(client, message)
        except (MailError, smtplib.SMTPException, OSError) as exc:
            log.error("[%s] alert e-mail not sent via %s: %s", change.source, smtp.host, exc)
        else:
            log.info("[%s] alert e-mail sent: %s", change.source, message["Subject"])

    def _webhook(self, change: HealthChange, url: str) -> None:
        payload = build_payload(change, language=self.settings.language)
        try:
            post_json(url, payload, headers=self._webhook_headers, timeout=self.settings.timeout)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            log.error("[%s] alert webhook not delivered: %s", change.source, exc)
        else:
            log.info("[%s] alert webhook delivered", change.source)


_active: Alerter | None = None


def install(
    settings: AlertSettings | None,
    *,
    environ: Mapping[str, str] | None = None,
    timezone: dt.tzinfo = dt.UTC,
) -> None:
    """Make `settings` the process's alert channels (None or no channels: no alerts)."""
    global _active
    _active = None
    if settings is not None and settings.enabled:
        _active = Alerter(settings, environ=environ, timezone=timezone)


def health_changed(
    spec: SourceSpec, outcome: RunOutcome, *, previous: str, current: str, failures: int
) -> None:
    """Called by radar.runs.settle on every change of health; never raises."""
    alerter = _active
    if alerter is None:
        return
    change = HealthChange(
        source=spec.name,
        title=spec.display_title,
        previous=previous,
        current=current,
        failures=failures,
        status=str(outcome.status),
        error=outcome.error,
        run_id=outcome.run_id,
        at=dt.datetime.now(dt.UTC),
    )
    try:
        alerter(change)
    except Exception:  # the top of the alert path: an alert bug must never fail a run
        log.exception("[%s] alert failed", spec.name)
