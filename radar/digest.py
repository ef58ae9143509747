"""E-mail digests: who gets what, and the message itself (a pure function).

Each recipient subscribes to sources, categories and a minimum relevance, daily or weekly.
A digest holds the items they have not been sent yet: accepted by an editor (or, with
review switched off, new items above the threshold). The message is multipart, HTML and
plain text from Jinja2 templates, in Danish, grouped by source; all text from the web is
escaped in the HTML part.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from functools import cache
from itertools import groupby
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from radar.items import Precision
from scraper.spec import StrictModel

if TYPE_CHECKING:
    from jinja2 import Environment

    from storage.queries import AnnouncedItem

DANISH_MONTHS = (
    "januar", "februar", "marts", "april", "maj", "juni",
    "juli", "august", "september", "oktober", "november", "december",
)  # fmt: skip
FREQUENCY_DAYS = {"daily": 1, "weekly": 7}


class Recipient(StrictModel):
    email: str = Field(pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$", max_length=320)
    name: str | None = None
    frequency: Literal["daily", "weekly"] = "weekly"
    sources: tuple[str, ...] = Field(default=(), description="empty: every source")
    categories: tuple[str, ...] = Field(default=(), description="empty: every category")
    min_relevance: float = Field(default=0.0, ge=0, le=1)


class DigestSettings(StrictModel):
    """`digest:` in config.yaml. SMTP settings are never here: they come from RADAR_SMTP_*."""

    subject: str = "Inspiration Radar: nyt til Inspiration til praksis"
    sender_name: str = "Center for Borgerdialog"
    list_unsubscribe: str | None = Field(
        default=None, description="mailto: address or https URL for the List-Unsubscribe header"
    )
    max_items: int = Field(default=50, ge=1, le=500)
    recipients: tuple[Recipient, ...] = ()


def wants(recipient: Recipient, item: AnnouncedItem) -> bool:
    """Whether an item matches the recipient's subscription."""
    return (
        (not recipient.sources or item.source_name in recipient.sources)
        and (not recipient.categories or item.category in recipient.categories)
        and item.relevance >= recipient.min_relevance
    )


@dataclass(frozen=True, slots=True)
class DigestLine:
    title: str
    url: str
    summary: str | None
    category: str | None
    when: str
    in_catalogue: bool


def danish_date(item: AnnouncedItem) -> str:
    """The item's own date at its precision, or when the radar found it."""
    if item.date is None:
        day = item.first_seen.astimezone(dt.UTC).date()
        return f"fundet {day.day}. {DANISH_MONTHS[day.month - 1]} {day.year}"
    value = item.date.value
    if item.date.precision is Precision.YEAR:
        return str(value.year)
    if item.date.precision is Precision.MONTH:
        return f"{DANISH_MONTHS[value.month - 1]} {value.year}"
    return f"{value.day}. {DANISH_MONTHS[value.month - 1]} {value.year}"


@cache
def _templates() -> Environment:
    # Built on first use: the config imports this module for its settings, and a run that
    # sends no digest need not load Jinja2.
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("radar", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def build_message(
    recipient: Recipient,
    items: list[AnnouncedItem],
    *,
    settings: DigestSettings,
    sender: str,
    now: dt.datetime,
    covered: frozenset[int] = frozenset(),
) -> EmailMessage:
    """The digest for one recipient as a multipart message; `covered` are in-catalogue ids."""
    ordered = sorted(items, key=lambda i: (i.source_title, -i.first_seen.timestamp(), i.id))
    groups = [
        {"source_title": title, "entries": [_line(item, covered) for item in group]}
        for title, group in groupby(ordered, key=lambda item: item.source_title)
    ]
    context = {
        "subject": settings.subject,
        "greeting": f"Hej {recipient.name}" if recipient.name else "Hej",
        "count": len(items),
        "groups": groups,
        "sender_name": settings.sender_name,
        "unsubscribe": settings.list_unsubscribe,
    }
    message = EmailMessage()
    message["Subject"] = f"{settings.subject} ({len(items)})"
    message["From"] = formataddr(("Inspiration Radar", sender))
    message["To"] = formataddr((recipient.name or "", str(recipient.email)))
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring="digest", domain=sender.rpartition("@")[2] or None)
    if settings.list_unsubscribe:
        message["List-Unsubscribe"] = f"<{settings.list_unsubscribe}>"
    templates = _templates()
    message.set_content(templates.get_template("digest.txt.j2").render(context))
    message.add_alternative(
        templates.get_template("digest.html.j2").render(context), subtype="html"
    )
    return message


def _line(item: AnnouncedItem, covered: frozenset[int]) -> DigestLine:
    return DigestLine(
        title=item.title,
        url=item.url,
        summary=item.summary,
        category=item.category,
        when=danish_date(item),
        in_catalogue=item.id in covered,
    )
