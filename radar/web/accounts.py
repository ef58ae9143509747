"""Editor accounts: Argon2id password hashes, adding and removing editors, logging in.

Only a hash is ever stored. Logging in as an unknown user costs as much as a wrong
password, so the answer time does not tell which user names exist.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from radar.errors import RadarError
from storage.models import Editor, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MIN_PASSWORD_LENGTH = 10
# argon2-cffi's defaults: Argon2id, RFC 9106's low-memory profile. Tests swap in a cheap one.
HASHER = PasswordHasher()


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the user name is unknown, so that costs the same as a known one."""
    return hasher.hash("not a password of anyone")


class AccountError(RadarError):
    """An editor account that cannot be created or changed as asked."""


@dataclass(frozen=True, slots=True)
class EditorInfo:
    username: str
    active: bool
    stamp: str  # changes when the password does: sessions made before it end


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return HASHER.hash(password)


def password_stamp(password_hash: str) -> str:
    """A fingerprint of the current hash that reveals nothing of it (cookies are only signed)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def add_editor(engine: Engine, username: str, password: str) -> None:
    if not USERNAME.fullmatch(username):
        raise AccountError("a user name is 1-64 letters, digits, '.', '_' or '-'")
    password_hash = hash_password(password)
    with Session(engine) as session:
        if _find(session, username) is not None:
            raise AccountError(f"editor {username!r} exists already")
        session.add(Editor(username=username, password_hash=password_hash))
        session.commit()


def set_password(engine: Engine, username: str, password: str) -> None:
    password_hash = hash_password(password)
    with Session(engine) as session:
        editor = _existing(session, username)
        editor.password_hash = password_hash
        session.add(editor)
        session.commit()


def remove_editor(engine: Engine, username: str) -> None:
    with Session(engine) as session:
        session.delete(_existing(session, username))
        session.commit()


def list_editors(engine: Engine) -> list[Editor]:
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(select(Editor).order_by(col(Editor.username))))


def authenticate(engine: Engine, username: str, password: str) -> EditorInfo | None:
    """The editor if the password is right and the account active; records the login."""
    with Session(engine) as session:
        editor = _find(session, username)
        if not _verify(editor.password_hash if editor else _dummy_hash(HASHER), password):
            return None
        if editor is None or not editor.active:
            return None
        if HASHER.check_needs_rehash(editor.password_hash):
            editor.password_hash = HASHER.hash(password)
        editor.last_login_at = utcnow()
        session.add(editor)
        session.commit()
        return EditorInfo(editor.username, editor.active, password_stamp(editor.password_hash))


def current_editor(engine: Engine, username: str) -> EditorInfo | None:
    with Session(engine) as session:
        editor = _find(session, username)
        if editor is None:
            return None
        return EditorInfo(editor.username, editor.active, password_stamp(editor.password_hash))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _find(session: Session, username: str) -> Editor | None:
    statement = select(Editor).where(sa.func.lower(col(Editor.username)) == username.lower())
    return session.exec(statement).first()


def _existing(session: Session, username: str) -> Editor:
    editor = _find(session, username)
    if editor is None:
        raise AccountError(f"no editor named {username!r}")
    return editor
