"""Loading and validating config.yaml.

The file is a public interface (every key is documented in the README). It is validated
whole before anything runs; any problem becomes one ConfigError naming the file, the
source and the key, and the CLI exits 2 without touching the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from radar.digest import DigestSettings
from radar.distributed.settings import DistributedSettings
from radar.errors import ConfigError
from radar.relevance import RelevanceSettings
from radar.settings_ops import AlertSettings, RetentionSettings, SchedulerSettings
from scraper.adapters import adapter_for, known_kinds
from scraper.spec import CrawlerSettings, SourceSpec, StrictModel

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

DEFAULT_CONFIG = Path("config.yaml")


class FeedSettings(StrictModel):
    """Where feeds go and how their ids and links are made."""

    out_dir: Path = Path("feeds-out")
    id_authority: str = Field(
        default="centerforborgerdialog.dk",
        pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
        description="DNS name in every tag: URI; never change it once feeds are published",
    )
    base_url: str | None = Field(default=None, description="public URL of out_dir, for rel=self")
    title: str = "Inspiration Radar – nyt til Inspiration til praksis"
    max_entries: int = Field(default=200, ge=1, le=5000)
    language: str = "da"


class ReviewSettings(StrictModel):
    """`review:` – whether editors review new items before they reach the public feed."""

    enabled: bool = True


class RadarConfig(StrictModel):
    crawler: CrawlerSettings
    feed: FeedSettings = FeedSettings()
    review: ReviewSettings = ReviewSettings()
    relevance: RelevanceSettings = RelevanceSettings()
    digest: DigestSettings = DigestSettings()
    catalogue: str | None = Field(
        default=None, description="the source that is the editors' own catalogue"
    )
    sources: tuple[SourceSpec, ...] = Field(min_length=1)
    scheduler: SchedulerSettings = SchedulerSettings()
    alerts: AlertSettings = AlertSettings()
    retention: RetentionSettings = RetentionSettings()
    distributed: DistributedSettings = DistributedSettings()

    @model_validator(mode="after")
    def _catalogue_is_a_source(self) -> RadarConfig:
        if self.catalogue is not None and self.catalogue not in {s.name for s in self.sources}:
            raise ValueError(f"catalogue: {self.catalogue!r} is not the name of a source")
        return self

    @field_validator("sources", mode="before")
    @classmethod
    def _typed_sources(cls, raw: Any) -> Any:
        if not isinstance(raw, list):
            return raw
        return [_source_spec(index, entry) for index, entry in enumerate(raw)]

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: tuple[SourceSpec, ...]) -> tuple[SourceSpec, ...]:
        names = [source.name for source in sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
        return sources

    @property
    def own_feed_only(self) -> tuple[str, ...]:
        """Sources whose items stay out of the shared feeds, digests and the review queue."""
        return tuple(source.name for source in self.sources if not source.shared_feeds)

    def source(self, name: str) -> SourceSpec:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


class _SourceError(ValueError):
    """A source entry failed its kind's validation; carries the ready-made message."""


def _source_spec(index: int, entry: Any) -> SourceSpec:
    """Validate one source with the model of its kind, so errors speak of that kind's keys."""
    label = f"sources[{index}]"
    if not isinstance(entry, dict):
        raise _SourceError(f"{label}: must be a mapping of keys")
    if entry.get("name"):
        label += f" ({entry['name']})"
    kind = entry.get("kind")
    if not kind:
        raise _SourceError(f"{label}.kind: required; one of {', '.join(known_kinds())}")
    try:
        model = adapter_for(str(kind)).spec_model
    except KeyError:
        raise _SourceError(
            f"{label}.kind: unknown kind {kind!r}; one of {', '.join(known_kinds())}"
        ) from None
    try:
        return model.model_validate(entry)
    except ValidationError as exc:
        raise _SourceError("\n  ".join(_describe(exc.errors(), prefix=label))) from None


def _describe(errors: list[ErrorDetails], *, prefix: str) -> list[str]:
    lines = []
    for error in errors:
        where = ".".join(
            str(part) for part in error["loc"] if not str(part).startswith("function-")
        )
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        label = ".".join(part for part in (prefix, where) if part)
        lines.append(f"{label}: {message}" if label else message)
    return lines


def _messages(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for error in exc.errors():
        context = error.get("ctx", {}).get("error")
        if isinstance(context, _SourceError):
            lines.append(str(context))
            continue
        lines.extend(_describe([error], prefix=""))
    return [line.removeprefix(".") for line in lines]


def parse_config(text: str, *, origin: str = "config.yaml") -> RadarConfig:
    """Validate YAML text; raise ConfigError naming the key."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(origin, f"not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(origin, "must be a mapping with 'crawler' and 'sources'")
    try:
        return RadarConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(origin, "\n  ".join(_messages(exc))) from None


def load_config(path: Path = DEFAULT_CONFIG) -> RadarConfig:
    """Read and validate a config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    return parse_config(text, origin=str(path))
