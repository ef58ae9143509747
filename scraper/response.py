"""What a fetch gives back, as plain data: the answer, its validators, Retry-After."""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from dataclasses import dataclass

from scraper.decode import decode_body


@dataclass(frozen=True, slots=True)
class Validators:
    """What a server told us to send back for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One successful answer: 200 with a body, or 304 (not modified) without one."""

    url: str
    final_url: str
    status: int
    body: bytes
    content_type: str | None
    validators: Validators
    elapsed: float

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def text(self) -> str:
        return decode_body(self.body, self.content_type)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header, in either its seconds or HTTP-date form."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # RFC 9110: every HTTP-date is GMT, whichever of its three forms is used.
        when = when.replace(tzinfo=dt.UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
