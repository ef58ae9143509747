"""Sending e-mail: SMTP settings from the environment only, and one thin sender.

Never in config.yaml, never in logs: host, port, user, password, security and sender
address come from RADAR_SMTP_* variables.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from radar.errors import RadarError

if TYPE_CHECKING:
    from email.message import EmailMessage

SECURITY_MODES = ("starttls", "tls", "none")


class MailError(RadarError):
    """E-mail could not be sent, or SMTP is not configured."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    security: str = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)  # never printed
    timeout: float = 30.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SmtpSettings:
        env = dict(os.environ if environ is None else environ)
        host, sender = env.get("RADAR_SMTP_HOST"), env.get("RADAR_SMTP_FROM")
        if not host or not sender:
            raise MailError("set RADAR_SMTP_HOST and RADAR_SMTP_FROM to send e-mail")
        security = env.get("RADAR_SMTP_SECURITY", "starttls").lower()
        if security not in SECURITY_MODES:
            raise MailError(f"RADAR_SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}")
        default_port = {"tls": 465, "starttls": 587, "none": 25}[security]
        port = env.get("RADAR_SMTP_PORT", str(default_port))
        if not port.isdigit():
            raise MailError("RADAR_SMTP_PORT must be a number")
        return cls(
            host=host,
            port=int(port),
            sender=sender,
            security=security,
            user=env.get("RADAR_SMTP_USER") or None,
            password=env.get("RADAR_SMTP_PASSWORD") or None,
        )


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    """An open, authenticated SMTP connection, as the settings ask."""
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if settings.security == "tls":
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            if settings.security == "starttls":
                client.starttls(context=context)
        if settings.user and settings.password:
            client.login(settings.user, settings.password)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(
            f"cannot reach the SMTP server {settings.host}:{settings.port}: {exc}"
        ) from exc
    return client


def send(client: smtplib.SMTP, message: EmailMessage) -> None:
    """Send one message; a refused recipient raises smtplib.SMTPRecipientsRefused."""
    client.send_message(message)
