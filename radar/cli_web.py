"""`radar web` serves the editors' review page; `radar user …` manages who may log in.

Passwords are read with a hidden prompt, or from stdin with --password-stdin (for scripts),
never from the command line, where other users could see them in the process list.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from radar.cli_common import EXIT_CONFIG, config_option, load_or_exit
from radar.web.accounts import (
    MIN_PASSWORD_LENGTH,
    AccountError,
    add_editor,
    list_editors,
    remove_editor,
    set_password,
)
from storage.db import open_database

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


@click.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--public-url",
    default=None,
    help="The page's address as editors open it, e.g. https://radar.example.dk behind a "
    "TLS proxy: https here makes the session cookie Secure.",
)
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option(
    "--feeds-out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where decisions rewrite the feeds (default: feed.out_dir from config).",
)
def web(
    config_path: Path,
    host: str,
    port: int,
    public_url: str | None,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
    feeds_out: Path | None,
) -> None:
    """Serve the editors' review page (log in with an account from `radar user add`)."""
    import uvicorn

    from radar.web.app import WebSettings, create_app, session_secret

    config = load_or_exit(config_path)
    if bool(ssl_certfile) != bool(ssl_keyfile):
        click.echo("radar: --ssl-certfile and --ssl-keyfile go together", err=True)
        sys.exit(EXIT_CONFIG)
    public = urlsplit(public_url) if public_url else None
    if public is not None and (public.scheme not in ("http", "https") or not public.netloc):
        click.echo("radar: --public-url must be an http(s) URL", err=True)
        sys.exit(EXIT_CONFIG)
    https = bool(ssl_certfile) or (public is not None and public.scheme == "https")
    if not https and not _loopback(host):
        log.warning("serving on %s without HTTPS: put it behind a TLS proxy", host)
    settings = WebSettings(
        secret=session_secret(),
        https=https,
        feeds_out=feeds_out,
        trusted_origins=frozenset({f"{public.scheme}://{public.netloc}"} if public else ()),
    )
    engine = open_database()
    try:
        app = create_app(engine, config, settings)
        scheme = "https" if ssl_certfile else "http"
        click.echo(f"Review page on {scheme}://{host}:{port}/ (Ctrl-C stops it)", err=True)
        uvicorn.run(
            app,
            host=host,
            port=port,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            log_level="warning",
            server_header=False,
            # Behind a proxy on this machine, the client address comes from X-Forwarded-For.
            proxy_headers=public is not None,
            forwarded_allow_ips="127.0.0.1",
        )
    finally:
        engine.dispose()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@click.group()
def user() -> None:
    """Editors who may log in to the review page: add, list, remove, passwd."""


password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt(
        f"Password (at least {MIN_PASSWORD_LENGTH} characters)",
        hide_input=True,
        confirmation_prompt=True,
    )
    return password


def _account(change: Callable[[Engine], None]) -> None:
    engine = open_database()
    try:
        change(engine)
    except AccountError as exc:
        click.echo(f"radar: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    finally:
        engine.dispose()


@user.command("add")
@click.argument("name")
@password_stdin
def add(name: str, password_stdin: bool) -> None:
    """Create an editor account NAME."""
    password = _read_password(password_stdin)
    _account(lambda engine: add_editor(engine, name, password))
    click.echo(f"editor {name} added")


@user.command("passwd")
@click.argument("name")
@password_stdin
def passwd(name: str, password_stdin: bool) -> None:
    """Set a new password for NAME; their open sessions end."""
    password = _read_password(password_stdin)
    _account(lambda engine: set_password(engine, name, password))
    click.echo(f"password of {name} changed")


@user.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Delete the editor account NAME; their open sessions end."""
    _account(lambda engine: remove_editor(engine, name))
    click.echo(f"editor {name} removed")


@user.command("list")
def list_users() -> None:
    """List editor accounts, with when each last logged in."""
    engine = open_database()
    try:
        editors = list_editors(engine)
    finally:
        engine.dispose()
    for editor in editors:
        last = editor.last_login_at.strftime("%Y-%m-%d %H:%M") if editor.last_login_at else "–"
        state = "active" if editor.active else "inactive"
        click.echo(f"{editor.username}\t{state}\tlast login {last}")
