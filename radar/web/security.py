"""What keeps the review page safe: security headers, CSRF checks and a login throttle.

CSRF has two independent locks on every POST: a per-session token in a hidden field, and
the browser's own word on where the request came from (Origin, else Referer, and
Sec-Fetch-Site). Either failing refuses the request with 403 before anything is read.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_FIELD = "csrf_token"
MAX_TRACKED = 10_000
CSRF_SESSION_KEY = "csrf"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Adds HEADERS to every response; pages that show items are never cached."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(request: Request) -> str:
    """The session's token, made on first use (before login too: the login form has one)."""
    token = request.session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_SESSION_KEY] = token
    return token


def csrf_problem(request: Request, submitted: object, *, trusted_origins: frozenset[str]) -> str:
    """Why a POST must be refused, or "" when it is fine."""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        return "cross-site request"
    origin = request.headers.get("origin") or _origin_of(request.headers.get("referer"))
    if origin == "null":
        return "opaque origin"
    # A browser always says where a POST comes from; only non-browser clients omit both.
    if origin and not _same_origin(request, origin, trusted_origins):
        return f"foreign origin {origin}"
    expected = request.session.get(CSRF_SESSION_KEY)
    if not isinstance(expected, str) or not isinstance(submitted, str):
        return "missing CSRF token"
    if not hmac.compare_digest(expected.encode(), submitted.encode()):
        return "wrong CSRF token"
    return ""


def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _same_origin(request: Request, origin: str, trusted: frozenset[str]) -> bool:
    if origin in trusted:
        return True
    # The Host the browser addressed; behind a TLS proxy the scheme may differ, the host not.
    host = request.headers.get("host", "")
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


@dataclass
class LoginThrottle:
    """Slows down guessing: after `limit` failures within `window` seconds from one address
    or against one user name, further attempts are refused until the window has passed."""

    limit: int = 5
    window: float = 15 * 60
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, *keys: str) -> float:
        """Seconds until another attempt is allowed (0: now)."""
        now = self.clock()
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.limit:
                wait = max(wait, times[0] + self.window - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = self.clock()
        if len(self._failures) > MAX_TRACKED:  # a flood of made-up names must not eat memory
            for key in [k for k, times in self._failures.items() if not self._recent(k, now)]:
                del self._failures[key]
        for key in keys:
            self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
