"""The `distributed:` section of config.yaml, and the secrets that come from the environment.

Plain pydantic: the single-machine program validates this section without importing Celery.
"""

from __future__ import annotations

import os

from pydantic import Field

from radar.errors import ConfigError
from scraper.spec import StrictModel

BROKER_URL_ENV = "RADAR_BROKER_URL"
REDIS_URL_ENV = "RADAR_REDIS_URL"


class DistributedSettings(StrictModel):
    """How `radar schedule --dispatch` and `radar worker` share their work."""

    queue: str = Field(
        default="radar-sources",
        pattern=r"^[A-Za-z0-9._:-]{1,200}$",
        description="broker queue of source runs",
    )
    key_prefix: str = Field(
        default="radar:",
        pattern=r"^[A-Za-z0-9._:-]{0,100}$",
        description="prefix of the shared limiter's Redis keys",
    )
    visibility_timeout: int = Field(
        default=3600,
        ge=60,
        le=86400,
        description="Redis as broker only: seconds before an unacknowledged run is redelivered",
    )
    slot_lease: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="seconds a host slot held by a killed worker stays taken",
    )
    lock_retries: int = Field(
        default=5, ge=0, le=100, description="retries of a run whose source is locked"
    )
    lock_retry_delay: float = Field(default=10.0, ge=0, le=3600)
    feeds_every: int = Field(
        default=60, ge=1, le=86400, description="seconds between feed rewrites when dispatching"
    )


def secret_url(variable: str) -> str:
    """A broker or Redis URL from the environment (it may hold a password); ConfigError if unset."""
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ConfigError(variable, "not set: the scale-out mode needs it (see docs/scale-out.md)")
    return value
