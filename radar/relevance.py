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
from itertools import compress

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


# Which texts can contain a term is decided cheaply before its regex runs: a term's stem
# must occur in the text as a substring once both are folded like the regex's IGNORECASE
# folds them. str.lower() agrees with that for the letters stems are made of (ASCII and
# Latin-1, so Danish and Swedish letters), except that the regex also equates "ı" with
# "i" and "ſ" with "s", and "İ" lowers to "i" plus a combining dot. Deleting the dot only
# adds candidates; the regex still decides.
_FOLD = str.maketrans({"ı": "i", "ſ": "s", "\u0307": None})


def _fold(text: str) -> str:
    folded = text.lower()
    # translate() is slow on non-ASCII text; these three characters are rare.
    if "ı" in folded or "ſ" in folded or "\u0307" in folded:
        return folded.translate(_FOLD)
    return folded


def _foldable(stem: str) -> bool:
    """Whether the substring test is exact for `stem` (lower-cased): only for these letters."""
    return all((char.isascii() and char.isprintable()) or "à" <= char <= "ÿ" for char in stem)


@dataclass(frozen=True, slots=True)
class _Term:
    name: str
    weight: float
    pattern: re.Pattern[str]
    # The folded words of its stem (the regex turns each space into \s+, so they are
    # tested one by one). A stem the fold is not exact for gets word "": always a candidate.
    word: str
    more_words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Profile:
    """One language's terms, with their first words side by side for the prefilter."""

    terms: tuple[_Term, ...]
    words: tuple[str, ...]

    def candidates(self, folded: str) -> list[_Term]:
        """The terms whose words all occur in `folded`; only these can match."""
        # One substring test per term, run by map() in C, rules out most of them.
        first = compress(self.terms, map(folded.__contains__, self.words))
        return [
            term
            for term in first
            if not term.more_words or all(word in folded for word in term.more_words)
        ]


@cache
def _pattern(term: str) -> re.Pattern[str]:
    stem, wildcard = term.removesuffix("*"), term.endswith("*")
    body = re.escape(stem.lower()).replace("\\ ", r"\s+")
    tail = r"[\w-]*" if wildcard else ""
    return re.compile(rf"(?<!\w){body}{tail}(?!\w)", re.IGNORECASE)


@cache
def _terms(profile: tuple[tuple[str, float], ...]) -> _Profile:
    terms = []
    for term, weight in profile:
        stem = term.removesuffix("*").lower()
        words = [word for word in stem.split(" ") if word] if _foldable(stem) else []
        word, *more_words = words or [""]
        terms.append(_Term(term, weight, _pattern(term), word, tuple(more_words)))
    return _Profile(tuple(terms), tuple(term.word for term in terms))


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


class Scorer:
    """Scores texts against one RelevanceSettings, each language's terms prepared once."""

    def __init__(self, settings: RelevanceSettings) -> None:
        self.settings = settings
        self._profiles: dict[str | None, _Profile] = {}

    def _profile_for(self, language: str | None) -> _Profile:
        if language not in self._profiles:
            merged = _profile(self.settings, language)
            self._profiles[language] = _terms(tuple(merged.items()))
        return self._profiles[language]

    def __call__(self, title: str, summary: str | None, *, language: str | None) -> Relevance:
        """The text's relevance (0..1) and the profile terms it matched, best first."""
        settings = self.settings
        # Folded together: no folded word spans the line break.
        folded = _fold(f"{title}\n{summary or ''}")
        weights: dict[str, float] = {}
        for term in self._profile_for(language).candidates(folded):
            if term.pattern.search(title):
                weights[term.name] = term.weight * settings.title_weight
            elif summary and term.pattern.search(summary):
                weights[term.name] = term.weight
        if not weights:
            return Relevance(score=0.0, terms=())
        total = sum(weights.values())
        ranked = sorted(weights, key=lambda term: (-weights[term], term))
        return Relevance(score=round(min(1.0, total / settings.saturation), 3), terms=tuple(ranked))


def score(
    title: str, summary: str | None, *, language: str | None, settings: RelevanceSettings
) -> Relevance:
    """The item's relevance (0..1) and the profile terms it matched, best first."""
    return Scorer(settings)(title, summary, language=language)
