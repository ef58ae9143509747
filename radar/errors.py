"""The one exception tree of Inspiration Radar.

    RadarError                      base; never raised itself
    ├── ConfigError                 config.yaml is invalid; raised by radar.config, exit code 2
    ├── FetchError                  a URL could not be fetched; raised by scraper.fetch
    │   ├── TransientFetchError     timeouts, resets, 5xx, 429: retried, then re-raised
    │   └── PermanentFetchError     4xx, too large, not allowed, robots.txt: not retried
    │       ├── DisallowedByRobots  robots.txt forbids the URL
    │       └── LeavesSource        a redirect or next-page link leads off the allowed domains
    ├── ExtractError                a page could not be turned into items; raised by scraper.extract
    └── StorageError                the database refused; raised by storage

Who handles them: radar.pipeline turns a FetchError or ExtractError of one source into a failed
run outcome for that source alone; radar.cli turns a ConfigError into exit code 2. Third-party
exceptions (httpx, selectolax, SQLAlchemy) are translated into these at one boundary each.
"""

from __future__ import annotations


class RadarError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(RadarError):
    """The configuration is invalid. `where` names the file, source and key."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


class FetchError(RadarError):
    """A URL could not be fetched for a source."""

    def __init__(self, message: str, *, source: str, url: str, status: int | None = None) -> None:
        self.source = source
        self.url = url
        self.status = status
        detail = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"[{source}] {url}: {message}{detail}")


class TransientFetchError(FetchError):
    """Worth retrying: the server or network may recover. `retry_after` is in seconds."""

    def __init__(
        self,
        message: str,
        *,
        source: str,
        url: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, source=source, url=url, status=status)
        self.retry_after = retry_after


class PermanentFetchError(FetchError):
    """Retrying will not help: the answer is final for this run."""


class DisallowedByRobots(PermanentFetchError):
    """robots.txt forbids our User-Agent to fetch the URL."""


class LeavesSource(PermanentFetchError):
    """A redirect or a next-page link leads outside the source's allowed domains. Not followed,
    and the listing beyond it is unread: a run that meets one is partial, never complete."""


class ExtractError(RadarError):
    """A fetched page could not be turned into items."""

    def __init__(self, message: str, *, source: str, url: str, selector: str | None = None) -> None:
        self.source = source
        self.url = url
        self.selector = selector
        where = f" selector {selector!r}" if selector else ""
        super().__init__(f"[{source}] {url}{where}: {message}")


class StorageError(RadarError):
    """The database could not be read or written."""
