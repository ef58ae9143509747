"""Is this run news, or a broken page? And how is each source doing over time?

Editors stop reading a feed the first time it floods them with false "new" items. A run
is *suspect*, and nothing of it is announced or removed, when it looks like a redesign
rather than news: no items where there were items, far fewer items than usual, a field
that is usually filled now mostly empty, or most items "new" at once (the signature of a
changed URL scheme). The thresholds are per source (`health:` in config.yaml).

A source's health (ok, degraded, failing, recovered) follows its runs; a change of
health is an operations event, never an entry in the editors' feed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from enum import StrEnum
from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from radar.items import ExtractedItem
    from scraper.spec import HealthRule

FIELDS = ("title", "link", "summary", "category", "date")
USUALLY_FILLED = 0.9  # a field filled this often in usual runs is expected to stay filled
MIN_SAMPLE = 5  # too few items say nothing about coverage or floods


class Health(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"
    RECOVERED = "recovered"


def coverage(items: Sequence[ExtractedItem]) -> dict[str, float]:
    """The share of items (0..1) that have each field."""
    if not items:
        return dict.fromkeys(FIELDS, 0.0)
    return {name: round(_filled(items, name) / len(items), 3) for name in FIELDS}


def _filled(items: Sequence[ExtractedItem], name: str) -> int:
    attribute = "url" if name == "link" else name
    # Counted in C (attrgetter, list.count): this runs for every field of every item.
    return len(items) - list(map(attrgetter(attribute), items)).count(None)


@dataclass(frozen=True, slots=True)
class RunStats:
    """What one run saw: items present, field coverage of parsed items, new identities."""

    items: int
    coverage: dict[str, float] | None
    new: int = 0
    finished: bool = True  # complete, or capped at max_pages (Crawl.finished)


@dataclass(frozen=True, slots=True)
class Baseline:
    """The usual: medians over the last successful complete runs."""

    items: float
    coverage: dict[str, float]


def baseline_of(history: Sequence[RunStats]) -> Baseline | None:
    if not history:
        return None
    covered = [stats.coverage for stats in history if stats.coverage]
    medians = (
        {name: statistics.median(c.get(name, 0.0) for c in covered) for name in FIELDS}
        if covered
        else {}
    )
    return Baseline(items=statistics.median(s.items for s in history), coverage=medians)


def suspicion(
    stats: RunStats, usual: Baseline | None, rule: HealthRule, *, known_active: int
) -> str | None:
    """Why this run looks broken rather than newsworthy; None when it looks fine."""
    if usual is not None and stats.finished and stats.items < rule.min_share * usual.items:
        return (
            f"found {stats.items} items where there are usually {usual.items:g}: "
            "suspected layout change"
        )
    dropped = _dropped_field(stats, usual, rule)
    if dropped:
        return dropped
    if known_active >= 2 * MIN_SAMPLE and stats.new >= MIN_SAMPLE and stats.items:
        share = stats.new / stats.items
        if share > rule.max_new_share:
            return (
                f"{stats.new} of {stats.items} items would be new at once: "
                "suspected redesign or URL change"
            )
    return None


def _dropped_field(stats: RunStats, usual: Baseline | None, rule: HealthRule) -> str | None:
    if usual is None or not stats.coverage or stats.items < MIN_SAMPLE:
        return None
    for name in FIELDS:
        before, now = usual.coverage.get(name, 0.0), stats.coverage.get(name, 0.0)
        if before >= USUALLY_FILLED and now < rule.field_floor:
            return f"field {name!r} filled for {now:.0%} of items, usually {before:.0%}"
    return None


def next_health(
    current: Health, failures: int, *, run_ok: bool, rule: HealthRule
) -> tuple[Health, int]:
    """The source's health after a run, and its count of bad runs in a row."""
    if run_ok:
        if current in (Health.DEGRADED, Health.FAILING):
            return Health.RECOVERED, 0
        return Health.OK, 0
    failures += 1
    return (Health.FAILING if failures >= rule.failing_after else Health.DEGRADED), failures
