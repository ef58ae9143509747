"""Which source items the catalogue already covers.

The catalogue re-titles items in Danish, so titles prove nothing; links do. A source item
is covered when a catalogue post links to it, or the catalogue item itself points at it,
once both sides are put through that source's identity rule (so OECD's several URL shapes,
KNOCA's old and new schemes, SKR's edited slugs all still match).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scraper.identity import identity_function
from scraper.urls import is_allowed
from storage.queries import source_links

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sqlmodel import Session

    from radar.config import RadarConfig
    from scraper.spec import SourceSpec


def covered_keys(
    specs: Iterable[SourceSpec], catalogue_links: Iterable[str]
) -> dict[str, set[str]]:
    """For each source: the identities of its items that catalogue links point at."""
    links = list(catalogue_links)
    covered: dict[str, set[str]] = {}
    for spec in specs:
        identity = identity_function(spec.identity)
        covered[spec.name] = {
            identity(link) for link in links if is_allowed(link, spec.allowed_domains)
        }
    return covered


def catalogue_coverage(session: Session, config: RadarConfig) -> dict[str, set[str]]:
    """What the configured catalogue covers of every other source, from its stored links."""
    if config.catalogue is None:
        return {}
    others = [spec for spec in config.sources if spec.name != config.catalogue]
    return covered_keys(others, source_links(session, config.catalogue))


def is_covered(covered: Mapping[str, set[str]], *, source: str, key: str) -> bool:
    return key in covered.get(source, set())
