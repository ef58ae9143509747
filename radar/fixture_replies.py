"""What the fixture server answers: pure functions from a routed request to a reply.

Path mapping, after percent-decoding the path (the query is used exactly as sent):

* ``/a/b/`` serves ``a/b/index.html``; ``/a/b`` serves the file ``a/b``, or answers 301 to
  ``/a/b/`` when ``a/b`` is a directory, as real servers do.
* ``/a/b?x=1`` serves the file literally named ``a/b?x=1`` (``/a/?x=1`` → ``a/?x=1``) if it
  exists, otherwise falls back to ``/a/b`` as if there were no query.

``<host>/_headers.json`` (never served itself) maps a requested path (with its query, or
without one to cover every query) to extra response headers; a header set to null is removed,
and an optional "status" replaces the status, keeping the file's body only if one was found:
``{"/old/": {"status": 301, "Location": "/new/"}, "/legacy.html": {"Content-Type": "text/html"}}``.

Every 200 carries a strong ETag and a Last-Modified derived from the body alone (checkouts change
file mtimes), so conditional GETs get 304 exactly when the content is unchanged.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

SIDECAR = "_headers.json"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".json": "application/json",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".txt": "text/plain; charset=utf-8",
    ".gz": "application/gzip",
}
_LOOPBACK_NAMES = frozenset({"", "localhost", "127.0.0.1", "::1"})
# Last-Modified stamps land in 2020-2023: plausible dates, fixed per body.
_STAMP_START = 1_577_836_800
_STAMP_SPAN = 4 * 365 * 86_400


@dataclass(frozen=True)
class Fault:
    """One scripted response. A body without a Content-Type header is sent as HTML."""

    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds before answering; cut short by the server stopping
    reset: bool = False  # after the delay, drop the connection without a response


@dataclass(frozen=True)
class Target:
    host: str
    path: str  # without query, and without the host segment when browsing
    query: str
    browsing: bool


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""


def route(host_header: str | None, raw_target: str) -> Target:
    raw_path, _, query = raw_target.partition("?")
    value = (host_header or "").strip().lower()
    host = value[1:].partition("]")[0] if value.startswith("[") else value.partition(":")[0]
    if host not in _LOOPBACK_NAMES:
        return Target(host, raw_path, query, browsing=False)
    first, slash, rest = raw_path.lstrip("/").partition("/")
    return Target(first.lower(), slash + rest, query, browsing=True)


def page(status: int, headers: dict[str, str], text: str) -> Reply:
    body = f"<!doctype html><title>{status}</title><p>{html.escape(text)}</p>\n".encode()
    return Reply(status, {"Content-Type": CONTENT_TYPES[".html"], **headers}, body)


def host_index(hosts: list[str]) -> Reply:
    links = "".join(f'<li><a href="/{h}/">{html.escape(h)}</a></li>' for h in hosts)
    body = f"<!doctype html><title>Fixture hosts</title><ul>{links}</ul>\n".encode()
    return Reply(200, {"Content-Type": CONTENT_TYPES[".html"]}, body)


def _contained(host_dir: Path, relative: str) -> Path | None:
    """The path under host_dir, or None if it escapes it or names the sidecar."""
    try:
        candidate = (host_dir / relative.lstrip("/")).resolve()
    except (OSError, ValueError):
        return None
    if candidate.name == SIDECAR or not candidate.is_relative_to(host_dir.resolve()):
        return None
    return candidate


def _file_reply(file: Path) -> Reply:
    body = file.read_bytes()
    digest = hashlib.sha256(body).hexdigest()
    stamp = _STAMP_START + int(digest[16:28], 16) % _STAMP_SPAN
    suffix = Path(file.name.partition("?")[0]).suffix.lower()
    headers = {
        "Content-Type": CONTENT_TYPES.get(suffix, "application/octet-stream"),
        "ETag": f'"{digest[:16]}"',
        "Last-Modified": formatdate(stamp, usegmt=True),
    }
    return Reply(200, headers, body)


def serve_path(host_dir: Path, path: str, query: str) -> Reply:
    decoded = unquote(path)
    if query and (hit := _contained(host_dir, f"{decoded}?{query}")) and hit.is_file():
        return _file_reply(hit)
    target = _contained(host_dir, decoded + "index.html" if decoded.endswith("/") else decoded)
    if target is not None and target.is_file():
        return _file_reply(target)
    if target is not None and target.is_dir() and not decoded.endswith("/"):
        location = path + "/" + (f"?{query}" if query else "")
        return page(301, {"Location": location}, f"Moved to {location}")
    return page(404, {}, f"Not found: {path}")


def sidecar_entry(host_dir: Path, path: str, query: str) -> dict[str, Any]:
    sidecar = host_dir / SIDECAR
    if not sidecar.is_file():
        return {}
    table = json.loads(sidecar.read_text(encoding="utf-8"))
    for key in [f"{path}?{query}", path] if query else [path]:
        entry = table.get(key)
        if isinstance(entry, dict):
            return dict(entry)
        if entry is not None:
            raise ValueError(f"{sidecar}: entry {key!r} must be an object")
    return {}


def _set_header(headers: dict[str, str], name: str, value: object) -> None:
    for existing in [key for key in headers if key.lower() == name.lower()]:
        del headers[existing]
    if value is not None:
        headers[name] = str(value)


def header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def with_overrides(reply: Reply, entry: dict[str, Any]) -> Reply:
    status = entry.pop("status", None)
    if status is not None:
        found = reply.status == 200
        reply = Reply(int(status), reply.headers if found else {}, reply.body if found else b"")
    headers = dict(reply.headers)
    for name, value in entry.items():
        _set_header(headers, name, value)
    return Reply(reply.status, headers, reply.body)


def _etag_matches(if_none_match: str, etag: str) -> bool:
    # If-None-Match compares weakly (RFC 9110 13.1.2): W/ prefixes do not matter.
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def _not_modified(request: dict[str, str], reply: Reply) -> bool:
    etag, last_modified = header(reply.headers, "ETag"), header(reply.headers, "Last-Modified")
    if "if-none-match" in request:
        return etag is not None and _etag_matches(request["if-none-match"], etag)
    if "if-modified-since" not in request or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(request["if-modified-since"])
        return since >= parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):  # unparsable, or naive against aware: ignore as servers do
        return False


def conditional(request: dict[str, str], reply: Reply) -> Reply:
    if reply.status != 200 or not _not_modified(request, reply):
        return reply
    kept = {"etag", "last-modified", "cache-control"}
    return Reply(304, {k: v for k, v in reply.headers.items() if k.lower() in kept})


def fault_reply(fault: Fault) -> Reply:
    headers = dict(fault.headers)
    if fault.body and header(headers, "Content-Type") is None:
        headers["Content-Type"] = CONTENT_TYPES[".html"]
    return Reply(fault.status, headers, fault.body)


def browsable(reply: Reply, host: str) -> Reply:
    """Keeps root-relative redirects inside the /<host>/ prefix a browser is using."""
    location = header(reply.headers, "Location")
    if location is None or not location.startswith("/") or location.startswith("//"):
        return reply
    headers = dict(reply.headers)
    _set_header(headers, "Location", f"/{host}{location}")
    return Reply(reply.status, headers, reply.body)
