"""Editors' decisions on items: accept, dismiss, duplicate-of, undo; and suppression rules.

Every change here is one small transaction the caller commits. The public feed and the
digests read the states these functions set, so a decision takes effect at once.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from radar.errors import RadarError
from storage.models import Item, ReviewState, Source, SuppressionRule, utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence

SUPPRESSIBLE_FIELDS = ("title", "summary", "url")


def suppressible_text(field: str, *, title: str, summary: str | None, url: str) -> str:
    """The text a suppression rule on `field` is matched against, when stored or later."""
    return {"title": title, "summary": summary or "", "url": url}[field]


class ReviewError(RadarError):
    """A review command named an item or rule that does not exist, or made no sense."""


def _items(session: Session, ids: Sequence[int]) -> list[Item]:
    found = {item.id: item for item in session.exec(select(Item).where(col(Item.id).in_(ids)))}
    missing = [str(item_id) for item_id in ids if item_id not in found]
    if missing:
        raise ReviewError(f"no item with id {', '.join(missing)}")
    return [found[item_id] for item_id in ids]


def set_state(
    session: Session,
    ids: Sequence[int],
    state: ReviewState,
    *,
    duplicate_of: int | None = None,
    by: str | None = None,
) -> list[Item]:
    """Give items a review state; `duplicate_of` names the original for DUPLICATE.

    `by` is the deciding editor's username (the review page knows it; the CLI does not).
    """
    if (state is ReviewState.DUPLICATE) != (duplicate_of is not None):
        raise ReviewError("a duplicate needs the id of its original, and only a duplicate does")
    if duplicate_of is not None:
        _items(session, [duplicate_of])
        if duplicate_of in ids:
            raise ReviewError(f"item {duplicate_of} cannot be a duplicate of itself")
    items = _items(session, ids)
    now = utcnow()
    for item in items:
        item.review_state, item.duplicate_of_id = state, duplicate_of
        item.reviewed_at = None if state is ReviewState.NEW else now
        item.reviewed_by = None if state is ReviewState.NEW else by
        if state is not ReviewState.DISMISSED:
            item.suppressed_by_id = None
        session.add(item)
    return items


def undo(session: Session, ids: Sequence[int]) -> list[Item]:
    """Back to "new", as if no editor (and no rule) had looked at them."""
    return set_state(session, ids, ReviewState.NEW)


def add_rule(
    session: Session, *, field: str, pattern: str, source: str | None, note: str | None = None
) -> tuple[SuppressionRule, int]:
    """Create a suppression rule and dismiss the unreviewed items it matches now."""
    if field not in SUPPRESSIBLE_FIELDS:
        raise ReviewError(f"field must be one of {', '.join(SUPPRESSIBLE_FIELDS)}")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ReviewError(f"invalid pattern {pattern!r}: {exc}") from exc
    if (
        source is not None
        and session.exec(select(Source).where(Source.name == source)).first() is None
    ):
        raise ReviewError(f"no source named {source!r}")
    rule = SuppressionRule(source_name=source, field=field, pattern=pattern, note=note)
    session.add(rule)
    session.flush()
    return rule, _apply_rule(session, rule, compiled)


def _apply_rule(session: Session, rule: SuppressionRule, compiled: re.Pattern[str]) -> int:
    statement = select(Item).join(Source, col(Source.id) == col(Item.source_id))
    statement = statement.where(Item.review_state == ReviewState.NEW)
    if rule.source_name is not None:
        statement = statement.where(Source.name == rule.source_name)
    count = 0
    for item in session.exec(statement):
        value = suppressible_text(rule.field, title=item.title, summary=item.summary, url=item.url)
        if compiled.search(value):
            item.review_state, item.suppressed_by_id = ReviewState.DISMISSED, rule.id
            item.reviewed_at = utcnow()
            session.add(item)
            count += 1
    return count


def drop_rule(session: Session, rule_id: int) -> int:
    """Switch a rule off and bring back the items it dismissed; return how many came back."""
    rule = session.get(SuppressionRule, rule_id)
    if rule is None:
        raise ReviewError(f"no suppression rule with id {rule_id}")
    rule.active = False
    session.add(rule)
    restored = session.execute(
        sa.update(Item)
        .where(
            col(Item.suppressed_by_id) == rule_id, col(Item.review_state) == ReviewState.DISMISSED
        )
        .values(review_state=ReviewState.NEW, suppressed_by_id=None, reviewed_at=None)
    )
    return int(getattr(restored, "rowcount", 0) or 0)


def rules(session: Session) -> list[SuppressionRule]:
    return list(session.exec(select(SuppressionRule).order_by(col(SuppressionRule.id))))
