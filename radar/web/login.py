"""Logging in and out of the review page.

A failed login is answered only after `failed_login_delay`, and the throttle refuses
further attempts from one address, or against one user name, after a few failures.
A successful one starts a fresh session with a fresh CSRF token.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse

from radar.web.accounts import authenticate
from radar.web.routes import checked_form, current, render, settings_of
from radar.web.security import CSRF_SESSION_KEY

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger(__name__)


async def login_form(request: Request) -> Response:
    if await current(request) is not None:
        return RedirectResponse("/", status_code=303)
    return render(request, "login.j2")


async def login(request: Request) -> Response:
    form = await checked_form(request)
    settings = settings_of(request)
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:1024]
    client = request.client.host if request.client else "?"
    keys = (f"ip:{client}", f"user:{username.lower()}")
    wait = settings.throttle.retry_after(*keys)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        message = f"For mange mislykkede forsøg. Prøv igen om {minutes} min."
        return render(request, "login.j2", 429, error=message, username=username)
    editor = None
    if username and password:
        editor = await run_in_threadpool(authenticate, request.app.state.engine, username, password)
    if editor is None:
        settings.throttle.failed(*keys)
        log.warning("failed login for %r from %s", username, client)
        await asyncio.sleep(settings.failed_login_delay)
        message = "Forkert brugernavn eller adgangskode."
        return render(request, "login.j2", 401, error=message, username=username)
    settings.throttle.succeeded(*keys)
    request.session.clear()
    request.session.update(
        {
            "user": editor.username,
            "stamp": editor.stamp,
            CSRF_SESSION_KEY: secrets.token_urlsafe(32),
        }
    )
    log.info("editor %s logged in from %s", editor.username, client)
    return RedirectResponse("/", status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
