"""Writing the Atom files: new items across sources (new.atom) and one file per source.

The feed bytes come from the pure feeds.atom builder; this module only queries, maps and
writes, atomically, so a web server never serves a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

from feeds import FeedEntry, FeedMeta, build_atom, entry_id_for, tag_uri
from radar.crossref import covered_keys, is_covered
from storage.models import utcnow
from storage.queries import AnnouncedItem, announced_items, source_links

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from radar.config import FeedSettings, RadarConfig

ALL_NEW = "new"


def to_entry(item: AnnouncedItem, *, authority: str, in_catalogue: bool = False) -> FeedEntry:
    return FeedEntry(
        entry_id=entry_id_for(authority=authority, source_name=item.source_name, item_key=item.key),
        title=item.title,
        link=item.url,
        summary=item.summary,
        source_name=item.source_name,
        source_title=item.source_title,
        category=item.category,
        language=item.language,
        published=item.date,
        first_seen=item.first_seen,
        updated=item.updated_at,
        in_catalogue=in_catalogue,
    )


def _meta(settings: FeedSettings, *, name: str, title: str, entries: list[FeedEntry]) -> FeedMeta:
    newest = max((entry.updated for entry in entries), default=None)
    base = settings.base_url.rstrip("/") + "/" if settings.base_url else None
    return FeedMeta(
        feed_id=tag_uri(authority=settings.id_authority, year=2026, specific=f"feed:{name}"),
        title=title,
        subtitle="Nye udgivelser, cases og metoder fra de kilder, redaktionen følger",
        updated=newest or utcnow(),
        self_url=f"{base}{name}.atom" if base else None,
        language=settings.language,
    )


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _feed(
    session: Session,
    settings: FeedSettings,
    covered: dict[str, set[str]],
    *,
    name: str,
    title: str,
    source: str | None,
) -> bytes:
    limit = settings.max_entries
    rows = announced_items(session, source_name=source, limit=limit)
    entries = [
        to_entry(
            row,
            authority=settings.id_authority,
            in_catalogue=is_covered(covered, source=row.source_name, key=row.key),
        )
        for row in rows
    ]
    meta = _meta(settings, name=name, title=title, entries=entries)
    return build_atom(meta, entries, max_entries=limit)


def write_feeds(engine: Engine, config: RadarConfig, *, out_dir: Path | None = None) -> list[Path]:
    """Write new.atom and <source>.atom for every configured source; return the paths."""
    settings = config.feed
    target = out_dir or settings.out_dir
    feeds = [(ALL_NEW, settings.title, None)] + [
        (spec.name, f"{spec.display_title} – nyt", spec.name) for spec in config.sources
    ]
    written = []
    with Session(engine) as session:
        covered = _covered(session, config)
        for name, title, source in feeds:
            path = target / f"{name}.atom"
            data = _feed(session, settings, covered, name=name, title=title, source=source)
            write_atomically(path, data)
            written.append(path)
    return written


def _covered(session: Session, config: RadarConfig) -> dict[str, set[str]]:
    if config.catalogue is None:
        return {}
    others = [spec for spec in config.sources if spec.name != config.catalogue]
    return covered_keys(others, source_links(session, config.catalogue))
