"""What the scraper needs to know, as validated models: crawler settings and source specs.

config.yaml is a public interface, so these models forbid unknown keys and say precisely what
is wrong. Adapter kinds extend `SourceSpec` with their own keys (see scraper.adapters).
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from scraper.extract import validate_selector
from scraper.urls import is_allowed

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}$"


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in config.yaml must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {value!r}")
    return value


Url = Annotated[str, AfterValidator(check_url)]


class Selector(StrictModel):
    """A CSS selector, optionally followed by " @attr" to take an attribute instead of text."""

    css: str
    attr: str | None = None

    @classmethod
    def parse(cls, text: str) -> Selector:
        css, marker, attr = text.rpartition(" @")
        if not marker:
            css, attr = text, ""
        css = css.strip()
        if not css:
            raise ValueError(f"empty CSS selector in {text!r}")
        if marker and not re.fullmatch(r"[A-Za-z_:][-A-Za-z0-9_:.]*", attr):
            raise ValueError(f"expected an attribute name after ' @' in {text!r}")
        validate_selector(css)
        return cls(css=css, attr=attr or None)

    def __str__(self) -> str:
        return f"{self.css} @{self.attr}" if self.attr else self.css


def _selector(value: Any) -> Any:
    return Selector.parse(value) if isinstance(value, str) else value


def _valid_css(value: str) -> str:
    validate_selector(value)
    return value


Css = Annotated[str, AfterValidator(_valid_css)]
# Written in config.yaml as one string: "h3.title a @href".
SelectorText = Annotated[Selector, BeforeValidator(_selector)]


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return pattern


Regex = Annotated[str, AfterValidator(_compiles)]


class Rewrite(StrictModel):
    """A regex substitution on the canonical URL, e.g. an old URL scheme to the new one."""

    pattern: Regex
    replace: str


class IdentityRule(StrictModel):
    """How a source's item URLs become identities."""

    rewrite: tuple[Rewrite, ...] = ()
    id_pattern: str | None = Field(default=None, description="regex; group 1 is the item id")

    @field_validator("id_pattern")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is not None and re.compile(_compiles(value)).groups < 1:
            raise ValueError(f"id_pattern {value!r} needs a group: (…) around the id")
        return value


class HealthRule(StrictModel):
    """When a run looks like a redesign rather than news, and when a source is failing."""

    min_share: float = Field(
        default=0.5, ge=0, le=1, description="fewer items than this share of usual: suspect"
    )
    max_new_share: float = Field(
        default=0.5, gt=0, le=1, description="more new items than this share: suspect"
    )
    field_floor: float = Field(
        default=0.5, ge=0, le=1, description="a usually filled field below this share: suspect"
    )
    failing_after: int = Field(default=3, ge=1, le=100, description="bad runs in a row")


ScriptKey = Annotated[str, Field(pattern=r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$")]


class DetailFields(StrictModel):
    """CSS selectors on a detail page; each overrides what the page's metadata says."""

    title: SelectorText | None = None
    summary: SelectorText | None = None
    date: SelectorText | None = None
    category: SelectorText | None = None
    links: SelectorText | None = Field(
        default=None, description="every match is an outbound link; default: the page's PDFs"
    )

    def selectors(self) -> dict[str, Selector]:
        return {name: value for name, value in self if isinstance(value, Selector)}


class ScriptFields(StrictModel):
    """Keys of `"key": "value"` pairs in a detail page's inline scripts, by field."""

    title: ScriptKey | None = None
    summary: ScriptKey | None = None
    date: ScriptKey | None = None
    category: ScriptKey | None = None

    def mapping(self) -> dict[str, str]:
        return {name: value for name, value in self if isinstance(value, str)}


class EnrichRule(StrictModel):
    """`enrich:` – read each new item's own page to fill what the listing leaves out."""

    fields: tuple[Literal["summary", "date", "category", "links"], ...] = (
        "summary",
        "date",
        "category",
    )
    detail: DetailFields = DetailFields()
    script_fields: ScriptFields = ScriptFields()
    max_per_run: int = Field(default=20, ge=1, le=1000, description="item pages fetched per run")


def _usable_cpus() -> int:
    """The CPUs this process may run on: fewer than the machine's in a pinned container."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class CrawlerSettings(StrictModel):
    """How politely and patiently we fetch. Defaults suit small editorial sites."""

    user_agent: str = Field(default="InspirationRadar/0.1", pattern=r"^[A-Za-z][\w.\-/]*$")
    contact_url: Url = Field(description="where a webmaster can reach the operator")
    timeout: float = Field(default=20.0, gt=0, le=300)
    max_attempts: int = Field(default=4, ge=1, le=10)
    backoff_initial: float = Field(default=1.0, ge=0, le=60)
    backoff_max: float = Field(default=60.0, ge=0, le=600)
    max_retry_after: float = Field(default=300.0, ge=0, le=3600)
    host_delay: float = Field(default=1.0, ge=0, le=120)
    host_concurrency: int = Field(default=2, ge=1, le=16)
    max_response_bytes: int = Field(default=5_000_000, ge=1024, le=200_000_000)
    extraction_worker: bool | None = Field(
        default=None,
        description="read listing pages' items in a child process, on another core "
        "(default: when this process may use more than one)",
    )

    @property
    def wants_extraction_worker(self) -> bool:
        if self.extraction_worker is None:
            return _usable_cpus() > 1
        return self.extraction_worker

    @property
    def user_agent_header(self) -> str:
        return f"{self.user_agent} (+{self.contact_url})"


class SourceSpec(StrictModel):
    """Keys every source has, whatever its kind."""

    name: str = Field(pattern=NAME_PATTERN, max_length=64)
    title: str | None = Field(default=None, max_length=300)
    kind: str
    url: Url
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN)
    schedule: str | None = None
    allowed_domains: tuple[str, ...] = ()
    identity: IdentityRule | None = None
    health: HealthRule = HealthRule()
    enrich: EnrichRule | None = None
    enabled: bool = True
    # False for a page editors watch for its own sake (their own catalogue page): its changes
    # go to its own feed and status only, never to new.atom, review, public, digests.
    shared_feeds: bool = True

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            # Lazily, as radar.settings_ops imports this module. One syntax for every schedule:
            # crontab fields ("15 6 * * 1-5", 0 and 7 = Sunday) or "every 30m", "every 6h".
            from radar.settings_ops import parse_schedule

            parse_schedule(value)  # a ValueError naming the expression
        return value

    @model_validator(mode="after")
    def _default_domains(self) -> SourceSpec:
        host = urlsplit(self.url).hostname or ""
        if not self.allowed_domains:
            object.__setattr__(self, "allowed_domains", (host,))
        elif not is_allowed(self.url, self.allowed_domains):
            raise ValueError(f"allowed_domains must include the host of url ({host})")
        return self

    @property
    def display_title(self) -> str:
        return self.title or self.name
