"""Page memos: what the last run learnt of each listing page (validators for a conditional
request, the identities on it, the next page), read before a crawl and written inside the
run's one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col

from scraper.crawl import PageMemo as CrawlMemo
from scraper.response import Validators
from storage.bulk import insert_rows, table_of
from storage.models import PageMemo
from storage.repository import digest

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable


def load_memos(session: Session, source_id: int) -> dict[str, CrawlMemo]:
    # Column rows, not ORM objects: a listing of 1,000 pages has 1,000 memos, every run.
    columns = ("url", "etag", "last_modified", "item_keys", "next_url", "item_stamps")
    statement = sa.select(*(col(getattr(PageMemo, name)) for name in columns)).where(
        col(PageMemo.source_id) == source_id
    )
    return {
        row.url: CrawlMemo(
            url=row.url,
            validators=Validators(etag=row.etag, last_modified=row.last_modified),
            item_keys=tuple(row.item_keys),
            next_url=row.next_url,
            item_stamps=dict(row.item_stamps or {}),
        )
        for row in session.connection().execute(statement)  # as stored_items: no ORM
    }


# Column sizes of PageMemo; a longer validator is dropped (costing only a conditional GET).
MAX_ETAG = 500
MAX_LAST_MODIFIED = 100


def _fits(value: str | None, limit: int) -> str | None:
    return value if value is not None and len(value) <= limit else None


def save_memos(
    session: Session, source_id: int, memos: Iterable[CrawlMemo], *, now: dt.datetime, prune: bool
) -> None:
    """Store this crawl's page memos; `prune` drops memos of pages the listing no longer has."""
    memos = list(memos)
    hashes = [digest(memo.url) for memo in memos]
    stale = sa.delete(PageMemo).where(col(PageMemo.source_id) == source_id)
    if not prune:
        stale = stale.where(col(PageMemo.url_hash).in_(hashes))
    session.execute(stale)
    columns: dict[str, list[Any]] = {
        "url": [memo.url for memo in memos],
        "url_hash": hashes,
        "etag": [_fits(memo.validators.etag, MAX_ETAG) for memo in memos],
        "last_modified": [
            _fits(memo.validators.last_modified, MAX_LAST_MODIFIED) for memo in memos
        ],
        "item_keys": [list(memo.item_keys) for memo in memos],
        "item_stamps": [dict(memo.item_stamps) for memo in memos],
        "next_url": [memo.next_url for memo in memos],
    }
    same = {"source_id": source_id, "updated_at": now}
    insert_rows(session.connection(), table_of(PageMemo), columns, same=same)
