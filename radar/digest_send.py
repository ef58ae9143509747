"""Sending digests without ever sending an item twice to the same recipient.

The send ledger (DigestDelivery: recipient × item) is written *before* a message goes
out, as "pending", and marked "sent" after. So a crash or a retry can only ever skip a
message (a pending row is never sent again), never double it; a recipient the server
refuses has its pending rows removed, so it is tried again next time while the others go
out now. An empty digest is not sent. `--dry-run` writes .eml files and records nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from radar.digest import FREQUENCY_DAYS, Recipient, build_message, wants
from radar.publish import write_atomically
from radar.smtp import MailError, SmtpSettings, connect, send
from storage.models import DigestDelivery, ReviewState, utcnow
from storage.queries import ItemFilter, announced_items

if TYPE_CHECKING:
    from email.message import EmailMessage
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from radar.config import RadarConfig
    from storage.queries import AnnouncedItem

log = logging.getLogger(__name__)
SLACK = dt.timedelta(hours=2)  # a daily cron at 06:00 must not miss a digest sent at 06:01


@dataclass
class DigestReport:
    sent: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    not_due: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)


def candidates(session: Session, config: RadarConfig) -> list[AnnouncedItem]:
    """The items a digest may carry: accepted ones, or with review off, new ones above the bar."""
    own = config.own_feed_only
    if config.review.enabled:
        only = ItemFilter(states=(ReviewState.ACCEPTED,), exclude_sources=own)
    else:
        states = (ReviewState.NEW, ReviewState.ACCEPTED)
        only = ItemFilter(
            states=states, min_relevance=config.relevance.threshold, exclude_sources=own
        )
    return announced_items(session, only=only, limit=5000)


def _delivered(session: Session, email: str) -> tuple[set[int], dt.datetime | None]:
    rows = session.exec(select(DigestDelivery).where(DigestDelivery.recipient == email)).all()
    last = max((row.sent_at for row in rows if row.sent_at), default=None)
    return {row.item_id for row in rows}, last


def _due(recipient: Recipient, last_sent: dt.datetime | None, now: dt.datetime) -> bool:
    period = dt.timedelta(days=FREQUENCY_DAYS[recipient.frequency])
    return last_sent is None or now - last_sent >= period - SLACK


def _record(session: Session, email: str, items: list[AnnouncedItem], message_id: str) -> None:
    session.add_all(
        DigestDelivery(recipient=email, item_id=item.id, message_id=message_id) for item in items
    )
    session.commit()


def _settle(session: Session, email: str, message_id: str, *, sent: bool, now: dt.datetime) -> None:
    """Mark a message's pending rows sent, or remove them so it is tried again next time."""
    mine = (
        col(DigestDelivery.recipient) == email,
        col(DigestDelivery.message_id) == message_id,
    )
    if sent:
        session.execute(sa.update(DigestDelivery).where(*mine).values(state="sent", sent_at=now))
    else:
        session.execute(sa.delete(DigestDelivery).where(*mine))
    session.commit()


def send_digests(
    engine: Engine,
    config: RadarConfig,
    *,
    only: str | None = None,
    dry_run_dir: Path | None = None,
    smtp: SmtpSettings | None = None,
    now: dt.datetime | None = None,
) -> DigestReport:
    """Send every due recipient their digest (or write .eml files with `dry_run_dir`)."""
    now = now or utcnow()
    report = DigestReport()
    recipients = [r for r in config.digest.recipients if only in (None, r.email)]
    if dry_run_dir is None and smtp is None:
        smtp = SmtpSettings.from_env()
    with Session(engine) as session:
        pool = candidates(session, config)
        client = connect(smtp) if smtp is not None and dry_run_dir is None and recipients else None
        try:
            for recipient in recipients:
                _one(session, config, recipient, pool, client, smtp, dry_run_dir, now, report)
        finally:
            if client is not None:
                client.quit()
    return report


def _one(
    session: Session,
    config: RadarConfig,
    recipient: Recipient,
    pool: list[AnnouncedItem],
    client: smtplib.SMTP | None,
    smtp: SmtpSettings | None,
    dry_run_dir: Path | None,
    now: dt.datetime,
    report: DigestReport,
) -> None:
    delivered, last_sent = _delivered(session, recipient.email)
    if dry_run_dir is None and not _due(recipient, last_sent, now):
        report.not_due.append(recipient.email)
        return
    items = [i for i in pool if i.id not in delivered and wants(recipient, i)]
    items = items[: config.digest.max_items]
    if not items:
        report.empty.append(recipient.email)
        return
    sender = smtp.sender if smtp is not None else "radar@localhost"
    message = build_message(recipient, items, settings=config.digest, sender=sender, now=now)
    if dry_run_dir is not None:
        path = dry_run_dir / f"{recipient.email}.eml"
        write_atomically(path, message.as_bytes())
        report.written.append(path)
        return
    assert client is not None
    _deliver(session, recipient, items, message, client, report, now)


def _deliver(
    session: Session,
    recipient: Recipient,
    items: list[AnnouncedItem],
    message: EmailMessage,
    client: smtplib.SMTP,
    report: DigestReport,
    now: dt.datetime,
) -> None:
    message_id = str(message["Message-ID"])
    _record(session, recipient.email, items, message_id)
    try:
        send(client, message)
    except smtplib.SMTPRecipientsRefused as exc:
        log.warning("digest for %s refused by the server: %s", recipient.email, exc.recipients)
        _settle(session, recipient.email, message_id, sent=False, now=now)
        report.refused.append(recipient.email)
        return
    except (OSError, smtplib.SMTPException) as exc:
        # Whether it went out is unknown: the pending rows stay, so it is never doubled.
        raise MailError(f"sending to {recipient.email} failed: {exc}") from exc
    _settle(session, recipient.email, message_id, sent=True, now=now)
    report.sent.append(recipient.email)
