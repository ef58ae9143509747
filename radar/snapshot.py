"""`radar snapshot`: save the raw answers of one crawl as fixture files.

The layout is the one the fixture server serves (tests/fixtures/sites/<snapshot>/<host>/
<path>), so real pages saved online become test fixtures and demo pages as they are:
a path ending in "/" is saved as index.html, a query string becomes part of the file
name, and headers a file name cannot carry (status, Content-Type, Location) go to the
host's _headers.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from radar.errors import RadarError

if TYPE_CHECKING:
    from pathlib import Path

KEPT_HEADERS = ("Content-Type", "Location", "Retry-After")


@dataclass
class SnapshotWriter:
    """Collects answers (as the fetcher's response hook) and writes them under `root`."""

    root: Path
    saved: list[Path] = field(default_factory=list)
    sidecars: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __call__(self, url: str, status: int, headers: dict[str, str], body: bytes) -> None:
        if status == 304:
            return  # never happens without memos; nothing to save
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        request_path = parts.path or "/"
        if parts.query:
            request_path += "?" + parts.query
        target = self._file_for(host, parts.path or "/", parts.query)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        self.saved.append(target)
        kept = {name: headers[name.lower()] for name in KEPT_HEADERS if name.lower() in headers}
        entry: dict[str, Any] = {**kept, **({"status": status} if status != 200 else {})}
        if entry:
            self.sidecars.setdefault(host, {})[request_path] = entry

    def _file_for(self, host: str, path: str, query: str) -> Path:
        relative = unquote(path).lstrip("/")
        if path.endswith("/"):
            relative += "index.html" if not query else ""
        name = relative + (f"?{query}" if query else "")
        target = (self.root / host / name).resolve()
        if not target.is_relative_to(self.root.resolve() / host):
            raise RadarError(f"refusing to write outside the snapshot folder: {path!r}")
        return target

    def finish(self) -> list[Path]:
        """Write the hosts' _headers.json files; return every file written."""
        for host, entries in self.sidecars.items():
            sidecar = self.root / host / "_headers.json"
            existing = json.loads(sidecar.read_text("utf-8")) if sidecar.exists() else {}
            sidecar.write_text(
                json.dumps({**existing, **entries}, indent=2, sort_keys=True), "utf-8"
            )
            self.saved.append(sidecar)
        return self.saved
