"""E-mail digests through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import radar.digest_send as digest_send
from radar.config import RadarConfig
from radar.digest import DigestSettings, Recipient
from radar.digest_send import send_digests
from radar.smtp import SmtpSettings
from storage.models import DigestDelivery, Item, ReviewState
from storage.review import set_state
from tests.conftest import Entry, ListingSite, shipped_config
from tests.test_pipeline import baseline_then_s2

ALICE, BOB = "alice@example.dk", "bob@example.dk"
HOSTILE = "<script>alert('x')</script> Borgersamlinger & co"
LATER = dt.datetime(2030, 1, 1, 7, tzinfo=dt.UTC)


@dataclass
class Mailbox:
    """An SMTP handler that keeps every message and refuses the addresses it is told to."""

    refuse: set[str] = field(default_factory=set)
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpts, message in self.messages if address in rcpts]


def free_port() -> int:
    # aiosmtpd's Controller checks it is up by connecting to its port, so it needs a real one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, SmtpSettings]]:
    handler, port = Mailbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=port, sender="radar@cfb.dk", security="none")
        yield handler, settings
    finally:
        controller.stop()


def config_for(*recipients: Recipient) -> RadarConfig:
    settings = DigestSettings(list_unsubscribe="mailto:afmeld@cfb.dk", recipients=recipients)
    return shipped_config().model_copy(update={"digest": settings})


@pytest.fixture
async def accepted(listing_site: ListingSite, engine: Engine) -> list[int]:
    """Three announced items, two of them accepted by an editor."""
    listing_site.write("s1", [Entry("seed", "Gammelt")])
    news = [
        Entry("a", HOSTILE, "Om deliberative processer <b>fed</b>"),
        Entry("b", "Samskabelse i kommunerne", "Erfaringer fra fem kommuner", date="2024-04"),
        Entry("c", "Ikke udvalgt", "Endnu ikke vurderet"),
    ]
    listing_site.write("s2", [*news, Entry("seed", "Gammelt")], per_page=10)
    await baseline_then_s2(listing_site, engine)
    with Session(engine) as session:
        ids = {item.title: item.id for item in session.exec(select(Item))}
        chosen = [ids[HOSTILE], ids["Samskabelse i kommunerne"]]
        set_state(session, [i for i in chosen if i is not None], ReviewState.ACCEPTED)
        session.commit()
    return [i for i in chosen if i is not None]


async def test_each_recipient_gets_a_multipart_danish_digest_of_accepted_items(
    accepted: list[int], engine: Engine, mailbox: tuple[Mailbox, SmtpSettings]
) -> None:
    box, smtp = mailbox
    report = send_digests(
        engine, config_for(Recipient(email=ALICE, name="Alice")), smtp=smtp, now=LATER
    )

    assert report.sent == [ALICE]
    [message] = box.to(ALICE)
    assert message["Subject"] == "Inspiration Radar: nyt til Inspiration til praksis (2)"
    assert message["List-Unsubscribe"] == "<mailto:afmeld@cfb.dk>"
    assert message["Message-ID"] and message["Date"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Hej Alice" in text and "Samskabelse i kommunerne" in text and "april 2024" in text
    assert HOSTILE in text and "Ikke udvalgt" not in text
    assert "<script>" not in html and "&lt;script&gt;" in html and "&amp; co" in html
    assert "<b>fed</b>" not in html
    assert "https://site.test/items/b/" in html and "<img" not in html


async def test_a_retry_never_sends_an_item_twice(
    accepted: list[int], engine: Engine, mailbox: tuple[Mailbox, SmtpSettings]
) -> None:
    box, smtp = mailbox
    config = config_for(Recipient(email=ALICE, frequency="daily"))
    first = send_digests(engine, config, smtp=smtp, now=LATER)
    too_soon = send_digests(engine, config, smtp=smtp, now=LATER + dt.timedelta(hours=1))
    next_day = send_digests(engine, config, smtp=smtp, now=LATER + dt.timedelta(days=1))

    assert (first.sent, too_soon.not_due, next_day.empty) == ([ALICE], [ALICE], [ALICE])
    assert len(box.to(ALICE)) == 1


async def test_a_refused_recipient_is_retried_while_the_others_go_out_now(
    accepted: list[int], engine: Engine, mailbox: tuple[Mailbox, SmtpSettings]
) -> None:
    box, smtp = mailbox
    box.refuse.add(BOB)
    config = config_for(Recipient(email=ALICE), Recipient(email=BOB))
    first = send_digests(engine, config, smtp=smtp, now=LATER)
    box.refuse.clear()
    second = send_digests(engine, config, smtp=smtp, now=LATER + dt.timedelta(days=8))

    assert (first.sent, first.refused) == ([ALICE], [BOB])
    assert (second.sent, second.empty) == ([BOB], [ALICE])
    assert (len(box.to(ALICE)), len(box.to(BOB))) == (1, 1)


async def test_a_crash_mid_digest_resumes_with_the_recipients_not_yet_sent(
    accepted: list[int],
    engine: Engine,
    mailbox: tuple[Mailbox, SmtpSettings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, smtp = mailbox
    config = config_for(Recipient(email=ALICE), Recipient(email=BOB))
    real_deliver = digest_send._deliver

    def crash_on_bob(*args: Any) -> None:
        if args[1].email == BOB:
            raise KeyboardInterrupt("the process is stopped")
        real_deliver(*args)

    monkeypatch.setattr(digest_send, "_deliver", crash_on_bob)
    with pytest.raises(KeyboardInterrupt):
        send_digests(engine, config, smtp=smtp, now=LATER)
    monkeypatch.setattr(digest_send, "_deliver", real_deliver)
    resumed = send_digests(engine, config, smtp=smtp, now=LATER)

    assert resumed.sent == [BOB] and resumed.not_due == [ALICE]
    assert (len(box.to(ALICE)), len(box.to(BOB))) == (1, 1)


async def test_subscriptions_empty_digests_and_dry_runs(
    accepted: list[int], engine: Engine, mailbox: tuple[Mailbox, SmtpSettings], tmp_path: Path
) -> None:
    box, smtp = mailbox
    picky = Recipient(email=BOB, sources=("another-source",))
    dry = send_digests(
        engine, config_for(Recipient(email=ALICE), picky), dry_run_dir=tmp_path, now=LATER
    )
    real = send_digests(engine, config_for(picky), smtp=smtp, now=LATER)

    assert [path.name for path in dry.written] == [f"{ALICE}.eml"]
    assert b"Samskabelse i kommunerne" in (tmp_path / f"{ALICE}.eml").read_bytes()
    assert dry.empty == [BOB] and real.empty == [BOB] and box.messages == []
    with Session(engine) as session:
        assert session.exec(select(DigestDelivery)).all() == []


def test_smtp_settings_come_from_the_environment_only() -> None:
    env = {
        "RADAR_SMTP_HOST": "mail.example.dk",
        "RADAR_SMTP_FROM": "radar@cfb.dk",
        "RADAR_SMTP_PASSWORD": "hemmelig",
    }
    settings = SmtpSettings.from_env(env)
    assert (settings.port, settings.security) == (587, "starttls")
    assert "hemmelig" not in repr(settings)
    with pytest.raises(Exception, match="RADAR_SMTP_HOST"):
        SmtpSettings.from_env({})
