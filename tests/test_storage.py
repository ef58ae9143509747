"""The storage layer on SQLite and PostgreSQL alike: schema, time zones, and whole runs.

Runs are recorded the way the pipeline records them (radar.runs.start_run and
radar.recording.record_crawl) from hand-made crawls, so every rule is checked against the
real database: one transaction per run, a silent baseline, and no false "new" ever.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlmodel import Session, SQLModel, col, select

import storage.new_items
import storage.record
from radar.items import PartialDate, Precision
from radar.pipeline import start_run
from storage.db import (
    SCHEMA_REVISION,
    alembic_config,
    at_schema_revision,
    migrate,
    upgrade_with_alembic,
)
from storage.memos import load_memos
from storage.models import (
    Event,
    EventKind,
    Item,
    ItemVersion,
    PageMemo,
    Run,
    RunStatus,
    Source,
    UTCDateTime,
)
from storage.queries import item_history
from storage.repository import digest
from tests.db_fixtures import SOURCE_URL, html_spec, make_item, memo, record

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from scraper.spec import SourceSpec

TABLES = {"source", "run", "item", "item_version", "event", "page_memo"}


# --- helpers: what the store holds --------------------------------------------------------


def stored_items(engine: Engine) -> dict[str, Item]:
    with Session(engine) as session:
        return {row.key: row for row in session.exec(select(Item))}


def stored_events(engine: Engine, run_id: int | None = None) -> list[tuple[str, str]]:
    """(kind, item key) of every event, or of one run's, in the order they were written."""
    with Session(engine) as session:
        statement = select(Event.kind, Item.key).join(Item, col(Event.item_id) == Item.id)
        if run_id is not None:
            statement = statement.where(Event.run_id == run_id)
        return [(kind, key) for kind, key in session.exec(statement.order_by(col(Event.id)))]


def event_rows(engine: Engine, run_id: int | None) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).where(Event.run_id == run_id)))


def kept_versions(engine: Engine, key: str) -> list[ItemVersion]:
    """The item_version rows of an item: the states later runs replaced."""
    with Session(engine) as session:
        statement = (
            select(ItemVersion)
            .join(Item, col(ItemVersion.item_id) == Item.id)
            .where(Item.key == key)
            .order_by(col(ItemVersion.id))
        )
        return list(session.exec(statement))


def history_of(engine: Engine, key: str) -> list[ItemVersion]:
    """Every state of an item, oldest first, the current one last."""
    with Session(engine) as session:
        item_id = session.exec(select(Item.id).where(Item.key == key)).one()
        assert item_id is not None
        return item_history(session, [item_id])[item_id]


def run_row(engine: Engine, run_id: int | None) -> Run:
    assert run_id is not None
    with Session(engine) as session:
        return session.get_one(Run, run_id)


def memos_of(engine: Engine, spec: SourceSpec) -> dict[str, Any]:
    with Session(engine) as session:
        source_id = session.exec(select(Source.id).where(Source.name == spec.name)).one()
        assert source_id is not None
        return load_memos(session, source_id)


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row that a run may write, as plain tuples, to compare before and after."""
    tables = {
        "item": Item,
        "item_version": ItemVersion,
        "event": Event,
        "page_memo": PageMemo,
    }
    result: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for name, model in tables.items():
            table = model.__table__  # type: ignore[attr-defined]
            rows = connection.execute(sa.select(table).order_by(table.c.id))
            result[name] = [tuple(row) for row in rows]
    return result


def active_keys(engine: Engine) -> set[str]:
    return {key for key, row in stored_items(engine).items() if row.removed_at is None}


A, B, C, D = (make_item(key) for key in "abcd")


# --- schema -------------------------------------------------------------------------------


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def test_migrate_is_idempotent_and_creates_the_tables(engine: Engine) -> None:
    migrate(engine)
    migrate(engine)
    tables = set(sa.inspect(engine).get_table_names())
    assert tables >= {*TABLES, "alembic_version"}
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == (head,)


def test_schema_revision_is_the_newest_migration() -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head == SCHEMA_REVISION


def test_an_up_to_date_database_opens_without_loading_alembic(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    code = (
        "import sys; from storage.db import open_database; open_database(sys.argv[1]); "
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'alembic'))"
    )
    opened = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, check=True
    )
    assert opened.stdout.strip() == "[]"


def schema_of(engine: Engine) -> dict[str, Any]:
    """Everything the database says of each table: columns, keys, indexes, constraints and,
    on PostgreSQL, storage parameters (the fillfactor of migration 0006)."""
    inspector = sa.inspect(engine)
    tables: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        tables[name] = {
            # Sorted: migrations add columns at the end, the models keep related ones
            # together, and nothing reads columns by position.
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(name)
            ),
            "primary key": inspector.get_pk_constraint(name),
            # Names too: a later migration drops or alters a constraint by its name.
            "foreign keys": sorted(
                (
                    fk["name"] or "",
                    *fk["constrained_columns"],
                    fk["referred_table"],
                    str(fk["options"]),
                )
                for fk in inspector.get_foreign_keys(name)
            ),
            "indexes": sorted(
                (ix["name"], tuple(ix["column_names"]), ix["unique"])
                for ix in inspector.get_indexes(name)
            ),
            "unique": sorted(
                (uc["name"], tuple(uc["column_names"]))
                for uc in inspector.get_unique_constraints(name)
            ),
            "checks": sorted(str(ck["sqltext"]) for ck in inspector.get_check_constraints(name)),
        }
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            options = connection.execute(
                sa.text(
                    "SELECT relname, reloptions FROM pg_class WHERE relkind = 'r' "
                    "AND relnamespace = 'public'::regnamespace ORDER BY relname"
                )
            ).all()
        tables["storage parameters"] = [tuple(row) for row in options]
    return tables


def empty(engine: Engine) -> None:
    """Drop every table of ours and Alembic's: the database as it was before its first run."""
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE alembic_version"))


def test_a_new_database_gets_the_schema_the_migrations_build(engine: Engine) -> None:
    # The fixture's database was new: migrate() created it from the models, unmigrated.
    created = schema_of(engine)
    assert at_schema_revision(engine)
    empty(engine)
    assert sa.inspect(engine).get_table_names() == []
    upgrade_with_alembic(engine)
    assert schema_of(engine) == created


def test_a_new_database_is_created_without_loading_alembic(tmp_path: Path) -> None:
    code = (
        "import sys; from storage.db import open_database, at_schema_revision; "
        "engine = open_database(sys.argv[1]); assert at_schema_revision(engine); "
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'alembic'))"
    )
    url = f"sqlite:///{tmp_path / 'new.db'}"
    opened = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, check=True
    )
    assert opened.stdout.strip() == "[]"


def test_other_applications_tables_do_not_stop_a_new_schema(engine: Engine) -> None:
    # A shared PostgreSQL database may hold tables that are not ours: ours are still created.
    empty(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE someone_else (id INTEGER PRIMARY KEY)"))
    migrate(engine)
    assert at_schema_revision(engine)
    assert set(sa.inspect(engine).get_table_names()) >= {*TABLES, "someone_else"}


def test_an_older_database_is_still_migrated(engine: Engine) -> None:
    command.downgrade(alembic_config(engine), "0005")
    assert not at_schema_revision(engine)
    migrate(engine)
    assert at_schema_revision(engine)


def test_migration_0007_keeps_only_replaced_states_and_goes_back(engine: Engine) -> None:
    spec = html_spec()
    runs = [
        record(engine, spec, [A, B]).run_id,
        record(engine, spec, [make_item("a", title="Second title"), B]).run_id,
        record(engine, spec, [make_item("a", title="Third title"), B]).run_id,
    ]

    def versions() -> list[tuple[str, int, str]]:
        with Session(engine) as session:
            rows = session.exec(
                select(Item.key, ItemVersion.run_id, ItemVersion.title)
                .join(Item, col(ItemVersion.item_id) == Item.id)
                .order_by(col(ItemVersion.id))
            )
            return [tuple(row) for row in rows]

    kept = versions()
    assert kept == [("a", runs[1], A.title), ("a", runs[2], "Second title")]

    # Before 0007 every state had a row, the current one too, each naming the run that
    # recorded it (the oldest one's is not known and keeps the run that replaced it).
    command.downgrade(alembic_config(engine), "0006")
    assert sorted(versions()) == sorted(
        [
            ("a", runs[1], A.title),
            ("a", runs[1], "Second title"),
            ("a", runs[2], "Third title"),
            ("b", runs[0], B.title),
        ]
    )
    command.upgrade(alembic_config(engine), "0007")
    assert versions() == kept


def test_migration_0008_drops_last_seen_and_brings_it_back(engine: Engine) -> None:
    spec = html_spec()
    record(engine, spec, [A, B])
    last = record(engine, spec, [A])  # b is removed
    finished = run_row(engine, last.run_id).finished_at
    removed = stored_items(engine)["b"].removed_at
    assert finished is not None and removed is not None
    item = sa.table("item", sa.column("key"), sa.column("last_seen", UTCDateTime()))

    command.downgrade(alembic_config(engine), "0007")
    with engine.connect() as connection:
        seen = dict(connection.execute(sa.select(item.c.key, item.c.last_seen)).all())
    # On the listing at its source's last complete run; b until it was removed.
    assert seen == {"a": finished, "b": removed}

    command.upgrade(alembic_config(engine), "head")
    assert "last_seen" not in {c["name"] for c in sa.inspect(engine).get_columns("item")}
    assert at_schema_revision(engine)


@pytest.mark.parametrize("start", ["migrated down to base", "nothing at all"])
def test_processes_starting_together_on_a_new_database_migrate_it_in_turn(
    engine: Engine, start: str
) -> None:
    command.downgrade(alembic_config(engine), "base")  # an empty database, as on day one
    if start == "nothing at all":
        empty(engine)
    url = engine.url.render_as_string(hide_password=False)
    code = (
        "import sys; from storage.db import make_engine, migrate; migrate(make_engine(sys.argv[1]))"
    )
    starts = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
        for _ in range(6)  # without the lock, some of six collide on PostgreSQL's catalogue
    ]
    errors = [start.communicate(timeout=120)[1] for start in starts]

    assert [start.returncode for start in starts] == [0] * 6, errors
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == (head,)


# --- UTCDateTime ----------------------------------------------------------------------------


def test_aware_datetimes_come_back_aware_in_utc(engine: Engine) -> None:
    copenhagen = dt.timezone(dt.timedelta(hours=2))
    moments = {
        "utc": dt.datetime(2026, 3, 10, 8, 30, 15, 123456, tzinfo=dt.UTC),
        "cph": dt.datetime(2026, 6, 1, 10, 0, tzinfo=copenhagen),
    }
    with Session(engine) as session:
        for name, moment in moments.items():
            session.add(
                Source(name=name, title=name, kind="html", url=SOURCE_URL, created_at=moment)
            )
        session.commit()
    with Session(engine) as session:
        for name, moment in moments.items():
            got = session.exec(select(Source.created_at).where(Source.name == name)).one()
            assert got.tzinfo is not None
            assert got.utcoffset() == dt.timedelta(0)
            assert got == moment
            assert (got.hour, got.minute) == (moment.astimezone(dt.UTC).hour, moment.minute)


def test_naive_datetime_is_refused(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(
            Source(
                name="n", title="n", kind="html", url=SOURCE_URL, created_at=dt.datetime(2026, 1, 1)
            )
        )
        with pytest.raises(sa.exc.StatementError, match="naive datetime") as caught:
            session.commit()
    assert isinstance(caught.value.orig, ValueError)
    with Session(engine) as session:
        assert session.exec(select(Source)).all() == []


# --- whole runs ------------------------------------------------------------------------------


def test_first_complete_run_is_a_silent_baseline(engine: Engine) -> None:
    spec = html_spec()
    outcome = record(engine, spec, [A, B, C])
    assert outcome.status is RunStatus.BASELINE
    assert (outcome.new, outcome.changed, outcome.removed, outcome.reappeared) == (0, 0, 0, 0)
    assert stored_events(engine) == []
    items = stored_items(engine)
    assert set(items) == {"a", "b", "c"}
    assert not any(row.announced for row in items.values())
    assert all(row.removed_at is None for row in items.values())
    run = run_row(engine, outcome.run_id)
    assert run.status == RunStatus.BASELINE
    assert run.complete
    assert run.finished_at is not None
    assert run.items_found == 3


def test_partial_runs_before_the_baseline_are_silent_too(engine: Engine) -> None:
    spec = html_spec()
    assert record(engine, spec, [A], complete=False).status is RunStatus.BASELINE
    assert record(engine, spec, [A, B]).status is RunStatus.BASELINE
    assert stored_events(engine) == []
    assert record(engine, spec, [A, B, C]).status is RunStatus.OK
    assert stored_events(engine) == [("new", "c")]


def test_added_edited_and_removed_items_make_exactly_one_event_each(engine: Engine) -> None:
    spec = html_spec()
    record(engine, spec, [A, B, C])
    edited = make_item("b", title="A better title")
    outcome = record(engine, spec, [A, edited, D])

    assert outcome.status is RunStatus.OK
    assert (outcome.new, outcome.changed, outcome.removed, outcome.reappeared) == (1, 1, 1, 0)
    assert sorted(stored_events(engine)) == [("changed", "b"), ("new", "d"), ("removed", "c")]
    by_kind = {event.kind: event for event in event_rows(engine, outcome.run_id)}
    assert by_kind[EventKind.CHANGED].details == {
        "fields": {"title": ["Title of b", "A better title"]}
    }
    assert by_kind[EventKind.NEW].details is None

    items = stored_items(engine)
    assert items["d"].announced
    assert items["b"].title == "A better title"
    assert items["c"].removed_at is not None
    assert active_keys(engine) == {"a", "b", "d"}

    before, after = history_of(engine, "b")
    assert (before.title, after.title) == ("Title of b", "A better title")
    assert [v.run_id for v in kept_versions(engine, "b")] == [outcome.run_id]  # it replaced b's
    assert [v.title for v in history_of(engine, "d")] == ["Title of d"]
    for unedited in ("a", "c", "d"):
        assert kept_versions(engine, unedited) == []

    run = run_row(engine, outcome.run_id)
    assert (run.new, run.changed, run.removed, run.reappeared) == (1, 1, 1, 0)


def test_every_editorial_field_change_is_recorded_with_its_values(engine: Engine) -> None:
    spec = html_spec()
    record(engine, spec, [A])
    date = PartialDate(dt.date(2024, 4, 1), Precision.MONTH)
    edited = make_item("a", summary="Nyt resumé", category="Værktøjer", date=date)
    outcome = record(engine, spec, [edited])
    (event,) = event_rows(engine, outcome.run_id)
    assert event.kind == EventKind.CHANGED
    assert event.details == {
        "fields": {
            "summary": [None, "Nyt resumé"],
            "category": [None, "Værktøjer"],
            "date": [None, "2024-04"],
        }
    }
    before, after = history_of(engine, "a")
    assert (before.summary, before.category, before.date) == (None, None, None)
    assert (after.summary, after.category, after.date) == ("Nyt resumé", "Værktøjer", "2024-04")
    assert before.recorded_at < after.recorded_at
    row = stored_items(engine)["a"]
    assert (row.date_value, row.date_precision) == (dt.date(2024, 4, 1), "month")
    assert row.fingerprint == edited.fingerprint()


def test_new_items_keep_no_version_rows_and_their_events_follow_the_listing(
    engine: Engine,
) -> None:
    # A new item's only state is its row: its history reads it back, dates at every
    # precision and for years under 1000 too.
    spec = html_spec()
    record(engine, spec, [A])
    dated = {
        "y5": PartialDate(dt.date(5, 1, 1), Precision.YEAR),
        "m999": PartialDate(dt.date(999, 12, 1), Precision.MONTH),
        "d2026": PartialDate(dt.date(2026, 11, 29), Precision.DAY),
        "undated": None,
    }
    items = [
        make_item(key, summary=f"Om {key}", category="Rapport", date=date)
        for key, date in dated.items()
    ]
    outcome = record(engine, spec, [A, *items])

    for item in [A, *items]:
        assert kept_versions(engine, item.key) == []
        [state] = history_of(engine, item.key)
        assert (state.title, state.summary, state.category) == (
            item.title, item.summary, item.category,
        )  # fmt: skip
        assert state.date == (str(item.date) if item.date else None)
        assert state.fingerprint == item.fingerprint()
    assert stored_events(engine, outcome.run_id) == [("new", key) for key in dated]


def test_new_items_in_many_batches_keep_each_row_its_own(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches of 3: a slip in slicing would give one item another's hash, relevance or
    # version; every column of every row must still belong to its own item.
    monkeypatch.setattr(storage.new_items, "ASSESS_BATCH", 3)
    spec = html_spec()
    record(engine, spec, [A])
    # Each topic, and whether the default Danish profile finds it relevant.
    topics = {"borgerinddragelse": True, "vejarbejde": False, "samskabelse": True}
    topics |= {"parkering": False, "borgerdialog": True}
    words = list(topics)
    items = [
        make_item(f"n{n}", f"Nr. {n}: {words[n % len(words)]}", links=(f"https://x.dk/{n}",))
        for n in range(10)
    ]
    outcome = record(engine, spec, [A, *items])
    assert outcome.new == len(items)

    stored = stored_items(engine)
    for item in items:
        row = stored[item.key]
        assert (row.title, row.url, row.links) == (item.title, item.url, list(item.links))
        assert row.key_hash == digest(item.key)
        assert row.fingerprint == item.fingerprint()
        assert (row.relevance > 0) is topics[item.title.split(": ")[1]]
        [state] = history_of(engine, item.key)
        assert (state.title, state.fingerprint) == (item.title, item.fingerprint())
        assert kept_versions(engine, item.key) == []
    assert stored_events(engine, outcome.run_id) == [("new", item.key) for item in items]


def test_markup_only_differences_are_not_changes(engine: Engine) -> None:
    spec = html_spec()
    record(engine, spec, [A, B])
    moved = make_item("a", url="https://example.dk/a?utm=1", language="da")
    outcome = record(engine, spec, [B, moved])
    assert outcome.status is RunStatus.OK
    assert stored_events(engine) == []


def test_the_same_snapshot_again_creates_no_events(engine: Engine) -> None:
    spec = html_spec()
    record(engine, spec, [A, B, C])
    record(engine, spec, [A, make_item("b", title="Edited"), D])
    before = stored_events(engine)
    for _ in range(2):
        outcome = record(engine, spec, [A, make_item("b", title="Edited"), D])
        assert outcome.status is RunStatus.OK
        assert (outcome.new, outcome.changed, outcome.removed, outcome.reappeared) == (0, 0, 0, 0)
    assert stored_events(engine) == before


def test_removed_then_seen_again_reappears_and_is_never_new(engine: Engine) -> None:
    spec = html_spec()
    record(engine, spec, [A, B])
    record(engine, spec, [A])
    outcome = record(engine, spec, [A, B])
    assert outcome.reappeared == 1
    assert outcome.new == 0
    assert stored_events(engine) == [("removed", "b"), ("reappeared", "b")]
    row = stored_items(engine)["b"]
    assert row.removed_at is None
    assert not row.announced  # it came from the baseline; reappearing does not make it new

    # Gone again, and back in a partial crawl with a new title: reappeared, with the change.
    record(engine, spec, [A])
    outcome = record(engine, spec, [make_item("b", title="Back, renamed")], complete=False)
    assert outcome.status is RunStatus.PARTIAL
    (event,) = event_rows(engine, outcome.run_id)
    assert event.kind == EventKind.REAPPEARED
    assert event.details == {"fields": {"title": ["Title of b", "Back, renamed"]}}
    assert [kind for kind, key in stored_events(engine) if key == "b"].count("new") == 0


def test_unicode_keys_and_long_urls_on_both_backends(engine: Engine) -> None:
    spec = html_spec()
    path = "/æøå/" + "ø" * 500 + "/" + "x" * 1500
    long_url = ("https://eksempel.dk" + path)[:2000]
    assert len(long_url) == 2000
    keys = [long_url, long_url[:-1] + "y", "https://ex.dk/日本語?q=Ærø", "https://ex.dk/🙂"]
    items = [make_item(key, url=key, title=f"Titel {i} – “ø”") for i, key in enumerate(keys)]
    record(engine, spec, items[:3])
    outcome = record(
        engine, spec, [items[0], make_item(keys[1], url=keys[1], title="Ændret"), items[3]]
    )
    assert sorted(stored_events(engine, outcome.run_id)) == sorted(
        [("changed", keys[1]), ("new", keys[3]), ("removed", keys[2])]
    )
    stored = stored_items(engine)
    assert set(stored) == set(keys)
    assert stored[keys[0]].url == long_url
    assert stored[keys[3]].title == "Titel 3 – “ø”"
    again = record(
        engine, spec, [items[0], make_item(keys[1], url=keys[1], title="Ændret"), items[3]]
    )
    assert stored_events(engine, again.run_id) == []


def test_partial_crawl_announces_new_items_and_removes_nothing(engine: Engine) -> None:
    spec = html_spec()
    record(engine, spec, [A, B, C])
    outcome = record(engine, spec, [A, D], complete=False)
    assert outcome.status is RunStatus.PARTIAL
    assert (outcome.new, outcome.removed) == (1, 0)
    assert stored_events(engine) == [("new", "d")]
    assert active_keys(engine) == {"a", "b", "c", "d"}
    assert not run_row(engine, outcome.run_id).complete


def test_all_not_modified_crawl_is_unchanged_and_silent(engine: Engine) -> None:
    spec = html_spec()
    pages = [memo(SOURCE_URL, ["a", "b"], etag='"p1"'), memo(SOURCE_URL + "?page=2", ["c"])]
    record(engine, spec, [A, B, C], memos=pages, pages_fetched=2)
    before = {key: row.model_dump() for key, row in stored_items(engine).items()}
    outcome = record(
        engine,
        spec,
        [],
        carried=["a", "b", "c"],
        memos=pages,
        pages_fetched=0,
        pages_not_modified=2,
    )
    assert outcome.status is RunStatus.UNCHANGED
    assert outcome.items == 3
    assert stored_events(engine) == []
    assert active_keys(engine) == {"a", "b", "c"}
    run = run_row(engine, outcome.run_id)
    assert (run.status, run.pages_fetched, run.pages_not_modified) == (RunStatus.UNCHANGED, 0, 2)
    # A run writes only what changed: not one item row here.
    assert {key: row.model_dump() for key, row in stored_items(engine).items()} == before
    assert set(memos_of(engine, spec)) == {SOURCE_URL, SOURCE_URL + "?page=2"}


def test_a_listing_that_suddenly_yields_nothing_is_suspect_and_changes_nothing(
    engine: Engine,
) -> None:
    spec = html_spec()
    record(engine, spec, [A, B], memos=[memo(SOURCE_URL, ["a", "b"], etag='"v1"')])
    before = snapshot(engine)
    outcome = record(engine, spec, [], memos=[memo(SOURCE_URL, [], etag='"v2"')])
    assert outcome.status is RunStatus.SUSPECT
    assert outcome.error and "suspected layout change" in outcome.error
    assert snapshot(engine) == before
    run = run_row(engine, outcome.run_id)
    assert run.status == RunStatus.SUSPECT
    assert run.finished_at is not None


def test_a_failure_while_recording_keeps_the_previous_state(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = html_spec()
    record(engine, spec, [A, B, C], memos=[memo(SOURCE_URL, ["a", "b", "c"], etag='"v1"')])
    record(engine, spec, [A, B, C], memos=[memo(SOURCE_URL, ["a", "b", "c"], etag='"v1"')])
    before = snapshot(engine)
    memos_before = memos_of(engine, spec)

    calls = 0
    real_insert = storage.record.insert_rows

    def insert_then_fail(*args: Any, **kwargs: Any) -> None:
        # The run's rows are written, then writing its events fails.
        nonlocal calls
        calls += 1
        if calls > 1:
            raise RuntimeError("disk on fire")
        real_insert(*args, **kwargs)

    monkeypatch.setattr(storage.record, "insert_rows", insert_then_fail)
    changed = [A, make_item("b", title="Edited"), D, make_item("e")]
    with pytest.raises(RuntimeError, match="disk on fire"):
        record(engine, spec, changed, memos=[memo(SOURCE_URL, ["a", "b", "d", "e"], etag='"v2"')])
    assert calls == 2

    assert snapshot(engine) == before
    assert memos_of(engine, spec) == memos_before
    with Session(engine) as session:
        failed = session.exec(select(Run).order_by(col(Run.id).desc())).first()
    assert failed is not None
    assert failed.status == RunStatus.RUNNING  # run_source closes it; record_crawl rolls back

    # Nothing is lost: the next run announces everything the failed one would have.
    monkeypatch.undo()
    outcome = record(
        engine, spec, changed, memos=[memo(SOURCE_URL, ["a", "b", "d", "e"], etag='"v2"')]
    )
    assert outcome.status is RunStatus.OK
    assert sorted(stored_events(engine)) == [
        ("changed", "b"),
        ("new", "d"),
        ("new", "e"),
        ("removed", "c"),
    ]
    assert memos_of(engine, spec)[SOURCE_URL].validators.etag == '"v2"'
    assert run_row(engine, failed.id).status == RunStatus.CRASHED  # found RUNNING by start_run


def test_page_memos_are_saved_with_the_run(engine: Engine) -> None:
    spec = html_spec()
    page2 = SOURCE_URL + "?side=2"
    first = [
        memo(SOURCE_URL, ["a", "b"], etag='W/"1"'),
        memo(page2, ["c"]),
    ]
    record(engine, spec, [A, B, C], memos=first, pages_fetched=2)
    memos = memos_of(engine, spec)
    assert memos == {m.url: m for m in first}

    # A partial crawl replaces the memos of pages it read and keeps the others.
    updated = memo(SOURCE_URL, ["a", "b", "d"], etag='W/"2"')
    record(engine, spec, [A, B, D], memos=[updated], complete=False)
    assert memos_of(engine, spec) == {SOURCE_URL: updated, page2: first[1]}

    # A complete crawl prunes pages the listing no longer has.
    record(engine, spec, [A, B, D], memos=[updated])
    assert memos_of(engine, spec) == {SOURCE_URL: updated}


def test_sources_are_kept_apart(engine: Engine) -> None:
    one, two = html_spec("one"), html_spec("two")
    record(engine, one, [A, B])
    record(engine, two, [A])
    outcome = record(engine, two, [A, B])
    assert outcome.new == 1
    outcome = record(engine, one, [A])
    assert outcome.removed == 1
    with Session(engine) as session:
        rows = session.exec(select(Source.name, Item.key, Item.removed_at).join(Source))
        state = {(name, key): removed is not None for name, key, removed in rows}
    assert state == {
        ("one", "a"): False,
        ("one", "b"): True,
        ("two", "a"): False,
        ("two", "b"): False,
    }


def test_start_run_marks_runs_left_running_as_crashed(engine: Engine) -> None:
    spec = html_spec()
    _, abandoned = start_run(engine, spec)
    record(engine, spec, [A])
    with Session(engine) as session:
        assert session.get_one(Run, abandoned).status == RunStatus.CRASHED


def test_long_page_validators_do_not_break_a_run(engine: Engine) -> None:
    spec = html_spec()
    etag = '"' + "e" * 600 + '"'
    record(engine, spec, [A], memos=[memo(SOURCE_URL, ["a"], etag=etag)])
    outcome = record(engine, spec, [A, B], memos=[memo(SOURCE_URL, ["a", "b"], etag=etag)])
    assert outcome.new == 1


def test_a_source_title_longer_than_the_column_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="at most 300 characters"):
        html_spec(title="Inspiration – " + "t" * 300)
