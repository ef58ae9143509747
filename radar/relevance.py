"""How relevant an item is to the catalogue, and why: a transparent keyword score.

Nesta and OECD publish on many topics; editors want the ones on citizen involvement.
Each language has a profile of terms with weights; a term ending in "*" matches any word
starting with it ("borgerinddrag*" matches "borgerinddragelse"). A term in the title counts
`title_weight` times. The score is the sum of the matched terms' weights divided by
`saturation`, capped at 1, and the matched terms are kept so an editor can see why.

The default profiles come from the catalogue's own vocabulary (the words its ~90 Danish
summaries use most: samskabelse, borgerinddragelse, borgerdialog, borgersamlinger, …)
and their Swedish and English counterparts in the sources it cites.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from pydantic import Field

from scraper.spec import StrictModel

CORE, RELATED, CONTEXT = 1.0, 0.6, 0.3

DEFAULT_PROFILES: dict[str, dict[str, float]] = {
    "da": {
        "borgerinddrag*": CORE, "inddragelse*": CORE, "borgerdialog*": CORE, "samskab*": CORE,
        "borgersamling*": CORE, "borgerting*": CORE, "klimaborgerting*": CORE,
        "deliberativ*": CORE, "medskab*": CORE, "borgerbudget*": CORE, "brugerinddrag*": CORE,
        "demokrati*": RELATED, "nærdemokrati*": RELATED, "civilsamfund*": RELATED,
        "deltagelse*": RELATED, "medborgerskab*": RELATED, "partnerskab*": RELATED,
        "fællesskab*": CONTEXT, "lokalsamfund*": CONTEXT, "frivillig*": CONTEXT,
        "dialog*": CONTEXT, "borgere": CONTEXT, "velfærd*": CONTEXT,
    },
    "sv": {
        "medborgardialog*": CORE, "medborgarinflytande*": CORE, "delaktighet*": CORE,
        "medskapande*": CORE, "samskapande*": CORE, "medborgarråd*": CORE,
        "medborgarbudget*": CORE, "deliberativ*": CORE, "medborgarpanel*": CORE,
        "demokrati*": RELATED, "civilsamhälle*": RELATED, "inflytande*": RELATED,
        "medborgare*": CONTEXT, "dialog*": CONTEXT, "brukarinflytande*": RELATED,
    },
    "en": {
        "citizen participation": CORE, "public participation": CORE, "co-creation": CORE,
        "co-production": CORE, "co-design": CORE, "deliberati*": CORE,
        "citizens' assembl*": CORE, "citizens assembl*": CORE, "citizen assembl*": CORE,
        "climate assembl*": CORE, "citizens' jur*": CORE, "mini-public*": CORE,
        "participatory*": CORE, "people-powered": CORE, "citizen engagement": CORE,
        "democratic innovation*": CORE, "collective intelligence": RELATED,
        "democra*": RELATED, "civil society": RELATED, "engagement": CONTEXT,
        "participation": RELATED, "open government": RELATED, "community": CONTEXT,
        "systems change": CONTEXT,
    },
}  # fmt: skip


class RelevanceSettings(StrictModel):
    """`relevance:` in config.yaml."""

    threshold: float = Field(default=0.3, ge=0, le=1, description="public feed minimum")
    saturation: float = Field(default=3.0, gt=0, description="summed weight that scores 1.0")
    title_weight: float = Field(default=2.0, ge=1, le=10)
    profiles: dict[str, dict[str, float]] = Field(default_factory=lambda: DEFAULT_PROFILES)


@dataclass(frozen=True, slots=True)
class Relevance:
    score: float
    terms: tuple[str, ...]


@cache
def _pattern(term: str) -> re.Pattern[str]:
    stem, wildcard = term.removesuffix("*"), term.endswith("*")
    body = re.escape(stem.lower()).replace("\\ ", r"\s+")
    tail = r"[\w-]*" if wildcard else ""
    return re.compile(rf"(?<!\w){body}{tail}(?!\w)", re.IGNORECASE)


def _profile(settings: RelevanceSettings, language: str | None) -> dict[str, float]:
    # English terms turn up in Danish and Swedish texts too ("co-creation", "collective
    # intelligence"); an unknown language gets every profile.
    if language is None or language not in settings.profiles:
        languages = list(settings.profiles)
    else:
        languages = [language, *(["en"] if language != "en" else [])]
    merged: dict[str, float] = {}
    for name in languages:
        merged.update(settings.profiles.get(name, {}))
    return merged


def score(
    title: str, summary: str | None, *, language: str | None, settings: RelevanceSettings
) -> Relevance:
    """The item's relevance (0..1) and the profile terms it matched, best first."""
    weights: dict[str, float] = {}
    for term, weight in _profile(settings, language).items():
        pattern = _pattern(term)
        if pattern.search(title):
            weights[term] = weight * settings.title_weight
        elif summary and pattern.search(summary):
            weights[term] = weight
    total = sum(weights.values())
    ranked = sorted(weights, key=lambda term: (-weights[term], term))
    return Relevance(score=round(min(1.0, total / settings.saturation), 3), terms=tuple(ranked))
