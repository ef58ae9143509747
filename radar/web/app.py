"""The review page's application: settings, middleware and routes, put together.

`create_app` is all a server (or a test) needs; `radar web` (radar/cli_web.py) serves it
with uvicorn. Sessions are signed cookies (HttpOnly, SameSite=Lax, Secure over HTTPS)
whose secret comes from RADAR_WEB_SECRET, or is made at start when that is unset.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from radar.web import login, routes
from radar.web.security import LoginThrottle, SecurityHeaders

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from radar.config import RadarConfig

log = logging.getLogger(__name__)

SECRET_ENV = "RADAR_WEB_SECRET"
SESSION_COOKIE = "radar_session"
SESSION_HOURS = 12
STATIC = Path(__file__).with_name("static")


@dataclass(frozen=True)
class WebSettings:
    """How the page is served. `https`: cookies are Secure and HSTS is sent."""

    secret: str
    https: bool = False
    feeds_out: Path | None = None  # default: feed.out_dir from config
    trusted_origins: frozenset[str] = frozenset()  # e.g. the public https://… of a proxy
    failed_login_delay: float = 1.0
    throttle: LoginThrottle = field(default_factory=LoginThrottle)


def session_secret(environ: dict[str, str] | None = None) -> str:
    """RADAR_WEB_SECRET, or a random secret for this process only (logged as such)."""
    env = os.environ if environ is None else environ
    secret = env.get(SECRET_ENV, "")
    if secret:
        if len(secret) < 32:
            log.warning("%s is shorter than 32 characters; use a long random value", SECRET_ENV)
        return secret
    log.warning(
        "%s is not set: made a random session secret; every session ends when the server restarts",
        SECRET_ENV,
    )
    return secrets.token_urlsafe(48)


def templates() -> Jinja2Templates:
    env = Environment(
        loader=PackageLoader("radar.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=env)


def create_app(engine: Engine, config: RadarConfig, settings: WebSettings) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", routes.queue, methods=["GET"]),
            Route("/decide", routes.decide, methods=["POST"]),
            Route("/sources", routes.sources, methods=["GET"]),
            Route("/login", login.login_form, methods=["GET"]),
            Route("/login", login.login, methods=["POST"]),
            Route("/logout", login.logout, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeaders, hsts=settings.https),
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_HOURS * 3600,
                same_site="lax",
                https_only=settings.https,
            ),
        ],
        exception_handlers={403: routes.forbidden, 404: routes.not_found, 405: routes.not_allowed},
    )
    app.state.engine = engine
    app.state.config = config
    app.state.settings = settings
    app.state.templates = templates()
    app.state.feeds_lock = threading.Lock()
    return app
