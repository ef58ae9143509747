"""Feeds for editors: Atom documents built from the radar's current view of each item."""

from __future__ import annotations

from feeds.atom import (
    ENTRY_ID_YEAR,
    FeedEntry,
    FeedMeta,
    build_atom,
    entry_id_for,
    tag_uri,
)

__all__ = [
    "ENTRY_ID_YEAR",
    "FeedEntry",
    "FeedMeta",
    "build_atom",
    "entry_id_for",
    "tag_uri",
]
