"""The operations sections of config.yaml: `scheduler`, `alerts` and `retention`.

Also the one schedule syntax every part of the program shares: a five-field cron
expression ("15 6 * * 1-5", read as crontab reads it, 0 and 7 being Sunday) or an
interval ("every 30m", "every 6h", "every 1d"). `parse_schedule` validates either and
turns it into an APScheduler trigger or the next time it is due.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator

from scraper.spec import StrictModel, Url

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

_EVERY = re.compile(r"^every\s+(\d+)\s*(s|m|h|d)$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DAY_NUMBER = re.compile(r"^\d+$")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule: a crontab expression, or an interval in seconds."""

    text: str
    interval: int | None = None  # seconds, for "every …"

    def trigger(
        self, *, timezone: dt.tzinfo, jitter: int = 0, anchor: dt.datetime | None = None
    ) -> BaseTrigger:
        """The APScheduler trigger. An interval counts from `anchor` (the last run's start),
        so a restarted daemon keeps each source's rhythm instead of firing all at once."""
        from apscheduler.triggers.interval import IntervalTrigger

        if self.interval is not None:
            return IntervalTrigger(
                seconds=self.interval, start_date=anchor, timezone=timezone, jitter=jitter or None
            )
        return _cron_trigger(self.text, timezone=timezone, jitter=jitter)

    def next_due(
        self, *, timezone: dt.tzinfo, now: dt.datetime, anchor: dt.datetime | None = None
    ) -> dt.datetime | None:
        """When the schedule is next due after `now` (no jitter). An interval that has no
        anchor (the source never ran) has no known slot: the daemon starts counting itself."""
        if self.interval is not None and anchor is None:
            return None
        trigger = self.trigger(timezone=timezone, anchor=anchor)
        due: dt.datetime | None = trigger.get_next_fire_time(None, now)
        return due.astimezone(dt.UTC) if due else None


def parse_schedule(text: str) -> Schedule:
    """Validate a schedule; raise ValueError naming the expression."""
    text = text.strip()
    every = _EVERY.match(text)
    if every:
        seconds = int(every.group(1)) * _UNIT_SECONDS[every.group(2).lower()]
        if seconds < 1:
            raise ValueError(f"invalid interval {text!r}: must be at least 1 second")
        return Schedule(text=text, interval=seconds)
    if text.lower().startswith("every"):
        raise ValueError(f"invalid interval {text!r}: expected e.g. 'every 30m', 'every 6h'")
    try:
        _cron_trigger(text, timezone=dt.UTC)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {text!r}: {exc}") from exc
    return Schedule(text=text)


def _cron_trigger(text: str, *, timezone: dt.tzinfo, jitter: int = 0) -> BaseTrigger:
    from apscheduler.triggers.cron import CronTrigger

    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, day_of_week = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_weekdays(day_of_week),
        timezone=timezone,
        jitter=jitter or None,
    )


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field in APScheduler 3 terms.

    APScheduler 3 numbers Monday 0, crontab numbers Sunday 0 (and 7): numbers are turned
    into day names, so "1-5" means Monday to Friday, as the operator meant.
    """
    if not any(ch.isdigit() for ch in field):
        return field
    days: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 1
        if base == "*":
            first, last = 0, 6
        else:
            start, _, end = base.partition("-")
            if not _DAY_NUMBER.match(start) or (end and not _DAY_NUMBER.match(end)):
                raise ValueError(f"day of week {field!r}: use numbers or names, not both")
            first, last = int(start), int(end) if end else int(start)
            if step_text and not end:
                last = 6
        if not 0 <= first <= last <= 7 or step < 1:
            raise ValueError(f"invalid day of week {field!r}")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_CRON_DAYS[day] for day in sorted(days))


def _schedule_text(value: str) -> str:
    parse_schedule(value)
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


ScheduleText = Annotated[str, AfterValidator(_schedule_text)]


class SchedulerSettings(StrictModel):
    """How `radar schedule` runs the sources."""

    timezone: Annotated[str, AfterValidator(_zone)] = "Europe/Copenhagen"
    default_schedule: ScheduleText = "0 6 * * *"
    jitter: int = Field(default=300, ge=0, le=86400, description="random delay, seconds")
    misfire_grace_time: int = Field(default=900, ge=1, le=86400)
    stop_timeout: float = Field(default=60.0, ge=0, le=3600)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


Health = Literal["degraded", "failing", "recovered"]


class AlertSettings(StrictModel):
    """Who hears about a source's health changing. SMTP settings come from the environment."""

    emails: tuple[Annotated[str, AfterValidator(_email)], ...] = ()
    webhook: Url | None = None
    webhook_header: str = Field(default="Authorization", pattern=r"^[A-Za-z0-9-]+$")
    states: tuple[Health, ...] = ("degraded", "failing", "recovered")
    language: Literal["da", "en"] = "da"
    timeout: float = Field(default=10.0, gt=0, le=120)

    @field_validator("states")
    @classmethod
    def _some(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one of degraded, failing, recovered")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.emails or self.webhook)


class RetentionSettings(StrictModel):
    """How long run history and page memos are kept; items and their events are kept always."""

    runs_days: int = Field(default=180, ge=1, le=36500)
    memo_days: int = Field(default=90, ge=1, le=36500)
    schedule: ScheduleText = "45 3 * * *"


def source_schedule(schedule: str | None, settings: SchedulerSettings) -> Schedule:
    """A source's own schedule, or the scheduler's default."""
    return parse_schedule(schedule or settings.default_schedule)
