"""What `radar status` reports per source, as plain rows; rendering is separate."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from sqlmodel import Session

from radar.settings_ops import source_schedule
from storage.models import utcnow
from storage.queries import SourceState, events_since, source_states

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from radar.config import RadarConfig
    from scraper.spec import SourceSpec

NEVER_RUN = "never run"
EVENTS_WINDOW = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class StatusRow:
    name: str
    title: str
    health: str
    status: str
    last_run: dt.datetime | None
    last_success: dt.datetime | None
    items: int
    removed_items: int
    pages: int
    new: int
    changed: int
    removed: int
    reappeared: int
    error: str | None
    events_7d: int = 0
    next_run: dt.datetime | None = None
    # The last run read as many pages as max_pages allows and the listing went on.
    capped: bool = False
    # `radar rebaseline` asked for the next finished run to be a silent baseline.
    rebaseline: bool = False

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("last_run", "last_success", "next_run"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _row(name: str, title: str, state: SourceState | None) -> StatusRow:
    run = state.last_run if state else None
    return StatusRow(
        name=name,
        title=title,
        health=state.health if state else "ok",
        status=run.status if run else NEVER_RUN,
        last_run=(run.finished_at or run.started_at) if run else None,
        last_success=state.last_success if state else None,
        items=state.items if state else 0,
        removed_items=state.removed if state else 0,
        pages=(run.pages_fetched + run.pages_not_modified) if run else 0,
        new=run.new if run else 0,
        changed=run.changed if run else 0,
        removed=run.removed if run else 0,
        reappeared=run.reappeared if run else 0,
        error=run.error if run else None,
        capped=run.capped if run else False,
        rebaseline=state.rebaseline if state else False,
    )


def status_rows(engine: Engine, config: RadarConfig) -> list[StatusRow]:
    """One row per configured source (config order), then stored sources no longer configured."""
    now, specs = utcnow(), config.sources
    with Session(engine) as session:
        states = source_states(session)
        recent = events_since(session, now - EVENTS_WINDOW)
    due = {spec.name: _next_run(spec, config, states.get(spec.name), now) for spec in specs}
    rows = [
        _row(spec.name, spec.display_title, states.pop(spec.name, None)) for spec in config.sources
    ]
    rows += [_row(name, state.title, state) for name, state in states.items()]
    return [replace(r, events_7d=recent.get(r.name, 0), next_run=due.get(r.name)) for r in rows]


def _next_run(
    spec: SourceSpec, config: RadarConfig, state: SourceState | None, now: dt.datetime
) -> dt.datetime | None:
    """When the scheduler will next run the source (before its jitter), if it is known."""
    if not spec.enabled:
        return None
    last = state.last_run if state else None
    schedule = source_schedule(spec.schedule, config.scheduler)
    return schedule.next_due(
        timezone=config.scheduler.zone, now=now, anchor=last.started_at if last else None
    )


HEALTH_STYLE = {"ok": "green", "recovered": "cyan", "degraded": "yellow", "failing": "red"}
STATUS_STYLE = {"ok": "green", "baseline": "cyan", "unchanged": "green", "partial": "yellow"}


def status_table(rows: list[StatusRow]) -> Table:
    table = Table(title="Inspiration Radar – kilder")
    for column in ("source", "health", "last run", "last run (UTC)"):
        table.add_column(column)
    for column in ("items", "new", "changed", "removed", "back", "events 7d"):
        table.add_column(column, justify="right")
    table.add_column("next run (UTC)")
    table.add_column("error", overflow="fold", max_width=60)
    for row in rows:
        style = STATUS_STYLE.get(row.status, "red" if row.status != NEVER_RUN else "dim")
        notes = [
            note
            for note, shown in (("capped", row.capped), ("rebaseline", row.rebaseline))
            if shown
        ]
        table.add_row(
            row.name,
            f"[{HEALTH_STYLE.get(row.health, 'red')}]{row.health}[/]",
            f"[{style}]{row.status}[/]" + "".join(f" · {note}" for note in notes),
            row.last_run.strftime("%Y-%m-%d %H:%M") if row.last_run else "–",
            str(row.items),
            str(row.new),
            str(row.changed),
            str(row.removed),
            str(row.reappeared),
            str(row.events_7d),
            row.next_run.strftime("%Y-%m-%d %H:%M") if row.next_run else "–",
            Text(row.error or ""),
        )
    return table
