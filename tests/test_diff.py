"""The diff rules, as a pure function and through the real storage over sequences of runs.

Editors must trust the radar: an identity is announced new at most once, a repeated snapshot
says nothing, and after a complete run the store holds exactly what the source shows.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from radar.items import ExtractedItem, PartialDate, Precision, fingerprint
from storage.diff import Diff, diff, entered_from_beyond, unique_by_key
from storage.models import Event, EventKind, Item, Run, RunStatus
from storage.repository import stored_editorial
from tests.db_fixtures import html_spec, make_item, record

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from contextlib import AbstractContextManager

    from sqlalchemy.engine import Engine


@dataclass(frozen=True, slots=True)
class KnownItem:
    """What the store knows of an item (storage.diff.Known), made by hand."""

    key: str
    fingerprint: str
    removed: bool
    fields: Mapping[str, str | None] | None = None


def known(*items: ExtractedItem, removed: Iterable[str] = ()) -> dict[str, KnownItem]:
    gone = set(removed)
    return {
        item.key: KnownItem(key=item.key, fingerprint=item.fingerprint(), removed=item.key in gone)
        for item in items
    }


def kinds(result: Diff) -> dict[str, EventKind]:
    return {change.key: change.kind for change in result.changes}


A, B, C = make_item("a"), make_item("b"), make_item("c")


# --- the rules, one by one --------------------------------------------------------------


def test_unknown_identity_is_new() -> None:
    result = diff({}, [A, B], complete=True)
    assert kinds(result) == {"a": EventKind.NEW, "b": EventKind.NEW}
    assert [change.item for change in result.changes] == [A, B]
    assert result.unchanged == ()


def test_new_items_are_kept_apart_from_the_updates_in_crawl_order() -> None:
    edited = replace(A, title="Ny titel")
    result = diff(known(A, C), [B, edited, make_item("d")], complete=True)

    assert [item.key for item in result.new] == ["b", "d"]
    assert [(change.kind, change.key) for change in result.updates] == [
        (EventKind.CHANGED, "a"),
        (EventKind.REMOVED, "c"),
    ]
    assert (result.count(EventKind.NEW), result.count(EventKind.CHANGED)) == (2, 1)


def test_same_editorial_fields_are_unchanged() -> None:
    result = diff(known(A, B), [A, B], complete=True)
    assert result.changes == ()
    assert result.unchanged == (A, B)


def test_url_and_language_are_not_editorial() -> None:
    moved = make_item("a", url="https://example.dk/elsewhere", language="en")
    result = diff(known(A), [moved], complete=True)
    assert result.changes == ()
    assert result.unchanged == (moved,)


def test_each_editorial_field_counts_as_a_change() -> None:
    variants = [
        make_item("a", title="Another title"),
        make_item("a", summary="A summary"),
        make_item("a", category="Guides"),
        make_item("a", date=PartialDate(dt.date(2024, 4, 1), Precision.MONTH)),
    ]
    for variant in variants:
        result = diff(known(A), [variant], complete=True)
        assert kinds(result) == {"a": EventKind.CHANGED}, variant
        assert result.changes[0].item == variant


def test_date_precision_is_part_of_the_fingerprint() -> None:
    by_month = make_item("a", date=PartialDate(dt.date(2024, 4, 1), Precision.MONTH))
    by_day = make_item("a", date=PartialDate(dt.date(2024, 4, 1), Precision.DAY))
    assert kinds(diff(known(by_month), [by_day], complete=True)) == {"a": EventKind.CHANGED}


optional_text = st.one_of(st.none(), st.text(max_size=30))
partial_dates = st.one_of(
    st.none(),
    st.builds(PartialDate, st.dates(), st.sampled_from(list(Precision))),
)


@settings(max_examples=300, deadline=None)
@given(
    title=st.text(max_size=30),
    summary=optional_text,
    category=optional_text,
    date=partial_dates,
)
def test_an_items_fingerprint_is_that_of_its_editorial_fields(
    title: str, summary: str | None, category: str | None, date: PartialDate | None
) -> None:
    # ExtractedItem.fingerprint spells fingerprint(editorial()) out for speed; stored items
    # are compared by the latter, so the two must never drift apart.
    item = ExtractedItem(
        key="k", url="https://example.org/k", title=title, summary=summary,
        category=category, date=date,
    )  # fmt: skip
    assert item.fingerprint() == fingerprint(item.editorial())
    stored = SimpleNamespace(
        title=title, summary=summary, category=category,
        date_value=date.value if date else None, date_precision=date.precision if date else None,
    )  # fmt: skip
    assert item.fingerprint() == fingerprint(stored_editorial(stored))


def test_absent_item_is_removed_only_when_the_crawl_is_complete() -> None:
    assert kinds(diff(known(A, B), [A], complete=True)) == {"b": EventKind.REMOVED}
    partial = diff(known(A, B), [A], complete=False)
    assert partial.changes == ()
    assert partial.unchanged == (A,)


def test_removal_carries_no_item() -> None:
    (change,) = diff(known(A), [], complete=True).changes
    assert change == type(change)(kind=EventKind.REMOVED, key="a", item=None)


def test_already_removed_item_is_not_removed_again() -> None:
    assert diff(known(A, B, removed=["b"]), [A], complete=True).changes == ()


def test_removed_item_seen_again_reappears_never_new() -> None:
    for complete in (True, False):
        result = diff(known(A, B, removed=["b"]), [A, B], complete=complete)
        assert kinds(result) == {"b": EventKind.REAPPEARED}


def test_reappeared_item_with_new_fields_is_reappeared_not_changed() -> None:
    edited = make_item("b", title="Back with a new title")
    result = diff(known(A, B, removed=["b"]), [A, edited], complete=True)
    assert kinds(result) == {"b": EventKind.REAPPEARED}
    assert result.changes[0].item == edited


def test_duplicates_in_one_run_are_counted_and_the_first_wins() -> None:
    first = make_item("a", title="First")
    second = make_item("a", title="Second")
    result = diff({}, [first, B, second, B], complete=True)
    assert result.duplicates == 2
    assert [change.item for change in result.changes] == [first, B]
    assert unique_by_key([first, second]) == ((first,), 1)


def test_duplicate_of_a_known_item_compares_the_first_copy() -> None:
    edited = make_item("a", title="Edited")
    assert diff(known(A), [A, edited], complete=True).changes == ()
    assert kinds(diff(known(A), [edited, A], complete=True)) == {"a": EventKind.CHANGED}


def test_carried_keys_count_as_present() -> None:
    result = diff(known(A, B, C), [A], carried=frozenset({"b"}), complete=True)
    assert kinds(result) == {"c": EventKind.REMOVED}
    assert result.unchanged == (A,)


def test_all_not_modified_crawl_changes_nothing() -> None:
    result = diff(known(A, B), [], carried=frozenset({"a", "b"}), complete=True)
    assert result.changes == ()
    assert result.duplicates == 0


@pytest.mark.parametrize(
    ("order", "entering"),
    [
        (["n1", "a", "b", "n2", "n3"], {"n2", "n3"}),  # two moved up from beyond the head
        (["n1", "a", "n2", "b"], set()),  # unknown among known ones: new, at any place
        (["n1", "n2"], set()),  # nothing known to tell by
        (["a", "b"], set()),
    ],
)
def test_only_unknown_identities_after_every_known_one_entered_from_beyond(
    order: list[str], entering: set[str]
) -> None:
    assert entered_from_beyond(order, {"a", "b", "z"}) == entering


def test_an_entering_identity_is_stored_quietly_only_if_unknown() -> None:
    d, e = make_item("d"), make_item("e")
    result = diff(known(A, B), [d, A, B, e], complete=False, entering={"e", "b"})
    assert [item.key for item in result.new] == ["d"]
    assert [item.key for item in result.entered] == ["e"]
    assert result.count(EventKind.NEW) == 1 and kinds(result) == {"d": EventKind.NEW}


def test_count_by_kind() -> None:
    result = diff(known(A, B, removed=["b"]), [B, C, make_item("d")], complete=True)
    assert result.count(EventKind.NEW) == 2
    assert result.count(EventKind.REAPPEARED) == 1
    assert result.count(EventKind.REMOVED) == 1
    assert result.count(EventKind.CHANGED) == 0


# --- pure properties ---------------------------------------------------------------------

KEYS = ["a", "b", "c", "d", "e", "æble/ø", "x" * 40]
TITLES = ["One", "Two", "Tre – tri"]

pool_items = st.builds(make_item, st.sampled_from(KEYS), st.sampled_from(TITLES))
known_states = st.dictionaries(
    st.sampled_from(KEYS),
    st.tuples(st.sampled_from(TITLES), st.booleans()),
    max_size=len(KEYS),
)


def known_from(states: dict[str, tuple[str, bool]]) -> dict[str, KnownItem]:
    return {
        key: KnownItem(key=key, fingerprint=make_item(key, title).fingerprint(), removed=gone)
        for key, (title, gone) in states.items()
    }


@given(
    states=known_states,
    seen=st.lists(pool_items, max_size=12),
    carried=st.frozensets(st.sampled_from(KEYS), max_size=3),
    complete=st.booleans(),
)
def test_diff_properties(
    states: dict[str, tuple[str, bool]],
    seen: list[ExtractedItem],
    carried: frozenset[str],
    complete: bool,
) -> None:
    current = known_from(states)
    result = diff(current, seen, carried=carried, complete=complete)
    by_kind: dict[EventKind, set[str]] = {kind: set() for kind in EventKind}
    for change in result.changes:
        by_kind[change.kind].add(change.key)
    # One verdict per identity, never both new and removed.
    assert len(result.changes) == len({change.key for change in result.changes})
    assert not by_kind[EventKind.NEW] & by_kind[EventKind.REMOVED]
    if not complete:
        assert not by_kind[EventKind.REMOVED]
    # Every distinct seen identity is either a change or unchanged, exactly once.
    distinct = {item.key for item in seen}
    assert len(seen) - len(distinct) == result.duplicates
    reported = {c.key for c in result.changes if c.kind is not EventKind.REMOVED}
    assert reported | {item.key for item in result.unchanged} == distinct
    assert not reported & {item.key for item in result.unchanged}
    # New means unknown; reappeared means known and removed; removed means known and present.
    assert by_kind[EventKind.NEW] == distinct - current.keys()
    came_back = {key for key in distinct if key in current and current[key].removed}
    assert by_kind[EventKind.REAPPEARED] == came_back
    if complete:
        expected_removed = {
            k for k, state in current.items() if not state.removed and k not in distinct | carried
        }
        assert by_kind[EventKind.REMOVED] == expected_removed


# --- sequences of snapshots through the real storage ------------------------------------


SNAPSHOT_KEYS = ["a", "b", "c", "d", "ø-side"]
snapshots = st.lists(
    st.tuples(
        st.lists(
            st.builds(
                make_item,
                st.sampled_from(SNAPSHOT_KEYS),
                st.sampled_from(TITLES),
                summary=st.sampled_from([None, "Kort resumé"]),
            ),
            max_size=6,
        ),
        st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


def events_of(engine: Engine, run_id: int | None) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).where(Event.run_id == run_id)))


def active_state(engine: Engine) -> dict[str, dict[str, str | None]]:
    with Session(engine) as session:
        rows = session.exec(select(Item).where(col(Item.removed_at).is_(None)))
        return {row.key: stored_editorial(row) for row in rows}


def item_keys_by_id(engine: Engine) -> dict[int | None, str]:
    with Session(engine) as session:
        return {row.id: row.key for row in session.exec(select(Item))}


def expected_state(items: Iterable[ExtractedItem]) -> dict[str, dict[str, str | None]]:
    unique, _ = unique_by_key(items)
    return {item.key: item.editorial() for item in unique}


@settings(max_examples=40, deadline=None)
@given(sequence=snapshots)
def test_sequences_of_runs_through_storage(
    sqlite_factory: Callable[[], AbstractContextManager[Engine]],
    sequence: list[tuple[list[ExtractedItem], bool]],
) -> None:
    spec = html_spec()
    announced_new: Counter[str] = Counter()
    ever_stored: set[str] = set()
    baseline_done = False
    with sqlite_factory() as engine:
        for items, complete in sequence:
            outcome = record(engine, spec, items, complete=complete)
            events = events_of(engine, outcome.run_id)
            names = item_keys_by_id(engine)
            new_now = {names[event.item_id] for event in events if event.kind == EventKind.NEW}
            announced_new.update(new_now)
            distinct = {item.key for item in items}

            if not baseline_done:
                # Until a complete run exists every run is silent; (d) the first complete
                # run is the baseline and announces nothing. A run that finds nothing where
                # items were, or a complete first run that finds nothing at all (wrong
                # selectors), is suspect, and the baseline waits for a real one.
                empty = not items and (complete or bool(ever_stored))
                assert outcome.status is (RunStatus.SUSPECT if empty else RunStatus.BASELINE)
                assert events == []
                baseline_done = complete and not empty
            elif outcome.status is not RunStatus.SUSPECT:
                # Nothing missed: every identity never stored before is announced new now.
                assert new_now == distinct - ever_stored
            if outcome.status is RunStatus.SUSPECT:
                assert events == []
            else:
                ever_stored |= distinct

            # (a) an identity is announced NEW at most once over the whole sequence.
            assert all(count == 1 for count in announced_new.values()), announced_new

            # (b) the identical snapshot again, right after: no events.
            again = record(engine, spec, items, complete=complete)
            assert events_of(engine, again.run_id) == []
            assert (again.new, again.changed, again.removed, again.reappeared) == (0, 0, 0, 0)

            # (c) after a complete successful run the store holds exactly that snapshot.
            if complete and outcome.status is not RunStatus.SUSPECT:
                assert active_state(engine) == expected_state(items)

        with Session(engine) as session:
            statuses = set(session.exec(select(Run.status)))
        assert RunStatus.RUNNING not in statuses


def test_a_more_precise_date_is_refined_quietly_and_a_coarser_one_ignored() -> None:
    month = make_item("a", "Titel", date=PartialDate(dt.date(2026, 11, 1), Precision.MONTH))
    day = make_item("a", "Titel", date=PartialDate(dt.date(2026, 11, 22), Precision.DAY))
    known_month = {"a": KnownItem("a", month.fingerprint(), False, month.editorial())}
    known_day = {"a": KnownItem("a", day.fingerprint(), False, day.editorial())}

    finer = diff(known_month, [day], complete=True)
    coarser = diff(known_day, [month], complete=True)
    other_month = make_item("a", "Titel", date=PartialDate(dt.date(2026, 10, 1), Precision.MONTH))

    assert (finer.changes, finer.refined) == ((), (day,))
    assert (coarser.changes, coarser.unchanged) == ((), (month,))
    assert [c.kind for c in diff(known_day, [other_month], complete=True).changes] == [
        EventKind.CHANGED
    ]
