"""Writing the Atom files editors and the public read.

- `new.atom`: every new item across sources, newest first;
- `<source>.atom` and `category-<slug>.atom`: the same, per source and per category;
- `review.atom`: new items no editor has reviewed yet, most relevant first;
- `public.atom`: accepted items — or, with review switched off, every new item at or above
  the relevance threshold.

The feed bytes come from the pure feeds.atom builder; this module only queries, maps and
writes, atomically, so a web server never serves a half-written file.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

from feeds import FeedEntry, FeedMeta, build_atom, entry_id_for, tag_uri
from radar.crossref import catalogue_coverage, is_covered
from storage.models import ReviewState, utcnow
from storage.queries import (
    AnnouncedItem,
    ItemFilter,
    announced_categories,
    announced_items,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from radar.config import FeedSettings, RadarConfig

log = logging.getLogger(__name__)

ALL_NEW = "new"


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed file: its name, its title, and which items it shows."""

    name: str
    title: str
    only: ItemFilter


def feed_specs(config: RadarConfig, categories: list[str]) -> list[FeedSpec]:
    """Every feed the configuration asks for, in a stable order."""
    base, own = config.feed.title, config.own_feed_only
    public = (
        ItemFilter(states=(ReviewState.ACCEPTED,), exclude_sources=own)
        if config.review.enabled
        else ItemFilter(
            states=(ReviewState.NEW, ReviewState.ACCEPTED),
            min_relevance=config.relevance.threshold,
            exclude_sources=own,
        )
    )
    review = ItemFilter(states=("new",), by_relevance=True, exclude_sources=own)
    specs = [
        FeedSpec(ALL_NEW, base, ItemFilter(exclude_sources=own)),
        FeedSpec("review", f"{base} – til gennemsyn", review),
        FeedSpec("public", f"{base} – udvalgt", public),
    ]
    specs += [
        FeedSpec(s.name, f"{s.display_title} – nyt", ItemFilter(source_name=s.name))
        for s in config.sources
    ]
    specs += [
        FeedSpec(
            f"category-{slug(c)}", f"{base} – {c}", ItemFilter(category=c, exclude_sources=own)
        )
        for c in categories
    ]
    return specs


DANISH_LETTERS = {ord("æ"): "ae", ord("ø"): "oe", ord("å"): "aa"}


def slug(text: str) -> str:
    """An ASCII file-name part: "CfB udgivelser" → "cfb-udgivelser", "Æblerov" → "aeblerov"."""
    folded = text.lower().translate(DANISH_LETTERS)
    ascii_text = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-") or "uden-navn"


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
        relevance=item.relevance,
        matched_terms=item.terms,
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
    session: Session, settings: FeedSettings, covered: dict[str, set[str]], spec: FeedSpec
) -> bytes:
    limit = settings.max_entries
    rows = announced_items(session, only=spec.only, limit=limit)
    entries = []
    for row in rows:
        in_catalogue = is_covered(covered, source=row.source_name, key=row.key)
        try:
            entries.append(
                to_entry(row, authority=settings.id_authority, in_catalogue=in_catalogue)
            )
        except ValueError as exc:  # e.g. a non-web link put in by hand: that entry, not the feed
            log.warning(
                "[%s] item %s left out of %s.atom: %s", row.source_name, row.id, spec.name, exc
            )
    meta = _meta(settings, name=spec.name, title=spec.title, entries=entries)
    return build_atom(meta, entries, max_entries=limit, keep_order=spec.only.by_relevance)


def write_feeds(engine: Engine, config: RadarConfig, *, out_dir: Path | None = None) -> list[Path]:
    """Write every feed (see the module docstring); return the paths, new.atom first."""
    target = out_dir or config.feed.out_dir
    written = []
    with Session(engine) as session:
        covered = catalogue_coverage(session, config)
        for spec in feed_specs(config, announced_categories(session)):
            path = target / f"{spec.name}.atom"
            write_atomically(path, _feed(session, config.feed, covered, spec))
            written.append(path)
    return written
