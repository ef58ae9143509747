"""`radar review …`: editors' decisions from the command line.

Items move new → accepted | dismissed | duplicate (of another item), and back with undo.
Suppression rules dismiss the same noise automatically, and are listed and reversible.
The public feed and the digests follow these states at once: after a decision the feeds
are written again (with the --config of `radar review`; without a config.yaml at hand they
follow at the next `radar feed` or scheduled run).
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlmodel import Session

from radar.cli_common import config_option, load_or_exit
from radar.publish import write_feeds
from storage.db import open_database
from storage.models import ReviewState
from storage.queries import ItemFilter, announced_items
from storage.review import (
    SUPPRESSIBLE_FIELDS,
    ReviewError,
    add_rule,
    drop_rule,
    rules,
    set_state,
    undo,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from radar.config import RadarConfig

EXIT_USAGE = 2
ids_argument = click.argument("ids", nargs=-1, required=True, type=int)


@contextmanager
def _session(*, publish: bool = False) -> Iterator[Session]:
    """A session committed at the end; with `publish`, the feeds are written after it."""
    # Read the config first: a broken one exits 2 before anything changes.
    config = _feeds_config() if publish else None
    engine = open_database()
    try:
        # Results are printed after the commit: keep their attributes loaded.
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except ReviewError as exc:
                session.rollback()
                click.echo(f"radar: {exc}", err=True)
                sys.exit(EXIT_USAGE)
        if config is not None:
            written = write_feeds(engine, config)
            click.echo(f"feeds written to {written[0].parent}", err=True)
    finally:
        engine.dispose()


def _feeds_config() -> RadarConfig | None:
    """The config whose feeds follow a decision; None if the default config.yaml is absent."""
    context = click.get_current_context().parent
    assert context is not None
    path: Path = context.params["config_path"]
    if context.get_parameter_source("config_path") == ParameterSource.DEFAULT and not path.exists():
        click.echo(f"radar: no {path}: the feeds follow at the next `radar feed`", err=True)
        return None
    return load_or_exit(path)


@click.group()
@config_option
def review(config_path: Path) -> None:
    """Review new items: list, accept, dismiss, duplicate, undo, suppress."""


@review.command("list")
@click.option(
    "--state", type=click.Choice([s.value for s in ReviewState]), default="new", show_default=True
)
@click.option("--source", default=None, help="Only this source.")
@click.option("--limit", type=click.IntRange(1, 5000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_items(state: str, source: str | None, limit: int, as_json: bool) -> None:
    """Items in one review state, most relevant first."""
    only = ItemFilter(source_name=source, states=(state,), by_relevance=True)
    with _session() as session:
        rows = announced_items(session, only=only, limit=limit)
    if as_json:
        keys = ("id", "source_name", "title", "url", "relevance", "terms", "review_state")
        data = [{key: getattr(row, key) for key in keys} for row in rows]
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"Til gennemsyn: {state} ({len(rows)})")
    for column in ("id", "kilde", "relevans", "titel", "hvorfor"):
        table.add_column(column, overflow="fold")
    for row in rows:
        why = ", ".join(term.rstrip("*") for term in row.terms[:4])
        table.add_row(
            str(row.id), row.source_name, f"{row.relevance:.2f}", Text(row.title), Text(why)
        )
    Console().print(table)


def _decide(state: ReviewState) -> Callable[[tuple[int, ...]], None]:
    def command(ids: tuple[int, ...]) -> None:
        with _session(publish=True) as session:
            items = set_state(session, list(ids), state)
        click.echo(f"{len(items)} item(s) {state}")

    return command


review.command("accept", help="Accept items: they go to the public feed and digests.")(
    ids_argument(_decide(ReviewState.ACCEPTED))
)
review.command("dismiss", help="Dismiss items: they stay out of the public feed and digests.")(
    ids_argument(_decide(ReviewState.DISMISSED))
)


@review.command("duplicate")
@ids_argument
@click.option("--of", "original", type=int, required=True, help="The id of the original item.")
def duplicate(ids: tuple[int, ...], original: int) -> None:
    """Mark items as duplicates of another item."""
    with _session(publish=True) as session:
        items = set_state(session, list(ids), ReviewState.DUPLICATE, duplicate_of=original)
    click.echo(f"{len(items)} item(s) marked duplicate of {original}")


@review.command("undo")
@ids_argument
def undo_items(ids: tuple[int, ...]) -> None:
    """Put items back to "new"."""
    with _session(publish=True) as session:
        items = undo(session, list(ids))
    click.echo(f"{len(items)} item(s) back to new")


@review.command("suppress")
@click.option("--field", type=click.Choice(SUPPRESSIBLE_FIELDS), required=True)
@click.option("--pattern", required=True, help="A regular expression, case-insensitive.")
@click.option("--source", default=None, help="Only this source (default: all).")
@click.option("--note", default=None, help="Why, for the next editor.")
def suppress(field: str, pattern: str, source: str | None, note: str | None) -> None:
    """Dismiss matching items automatically, now and in every later run."""
    with _session(publish=True) as session:
        rule, dismissed = add_rule(session, field=field, pattern=pattern, source=source, note=note)
    click.echo(f"rule {rule.id}: {field} ~ {pattern!r}; {dismissed} unreviewed item(s) dismissed")


@review.command("rules")
def list_rules() -> None:
    """List suppression rules."""
    with _session() as session:
        for rule in rules(session):
            state = "on" if rule.active else "off"
            scope = rule.source_name or "alle kilder"
            click.echo(
                f"{rule.id}\t{state}\t{scope}\t{rule.field} ~ {rule.pattern}\t{rule.note or ''}"
            )


@review.command("unsuppress")
@click.argument("rule_id", type=int)
def unsuppress(rule_id: int) -> None:
    """Switch a rule off and bring back the items it dismissed."""
    with _session(publish=True) as session:
        restored = drop_rule(session, rule_id)
    click.echo(f"rule {rule_id} off; {restored} item(s) back to new")
