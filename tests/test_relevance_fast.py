"""The relevance score's substring prefilter gives exactly what searching every term gives."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radar.relevance import DEFAULT_PROFILES, Relevance, RelevanceSettings, _fold, _profile, score
from radar.relevance import _pattern as pattern_for


def reference_score(
    title: str, summary: str | None, *, language: str | None, settings: RelevanceSettings
) -> Relevance:
    """The score as it was before the prefilter: every term's regex on every text."""
    weights: dict[str, float] = {}
    for term, weight in _profile(settings, language).items():
        pattern = pattern_for(term)
        if pattern.search(title):
            weights[term] = weight * settings.title_weight
        elif summary and pattern.search(summary):
            weights[term] = weight
    total = sum(weights.values())
    ranked = sorted(weights, key=lambda term: (-weights[term], term))
    return Relevance(score=round(min(1.0, total / settings.saturation), 3), terms=tuple(ranked))


STEM_LETTERS = sorted(
    {char for profile in DEFAULT_PROFILES.values() for term in profile for char in term.lower()}
    | set("abcdefghijklmnopqrstuvwxyzæøåäöüé' -")
)
TRICKY = ["İ", "ı", "ſ", "K", "Å", "ẞ", "ß", "\u0307", "\t", "\n", "\xa0", "µ", "Σ", "ς"]
words = st.sampled_from(
    [term.removesuffix("*") for profile in DEFAULT_PROFILES.values() for term in profile]
    + ["Borgerinddragelse", "SAMSKABELSE", "medborgardialogen", "Citizens'\tAssemblies"]
)
fragments = st.one_of(
    words,
    words.map(str.upper),
    words.map(str.title),
    st.text(alphabet=st.sampled_from(STEM_LETTERS + TRICKY), max_size=12),
    st.sampled_from(TRICKY),
)
texts = st.lists(fragments, max_size=8).flatmap(
    lambda parts: st.sampled_from(["", " ", "-", "  \n", "x"]).map(lambda sep: sep.join(parts))
)


@settings(max_examples=400, deadline=None)
@given(
    title=texts,
    summary=st.one_of(st.none(), texts),
    language=st.sampled_from([None, "da", "sv", "en", "fr"]),
    title_weight=st.sampled_from([1.0, 2.0, 3.5]),
)
def test_prefilter_matches_searching_every_term(
    title: str, summary: str | None, language: str | None, title_weight: float
) -> None:
    config = RelevanceSettings(title_weight=title_weight)
    fast = score(title, summary, language=language, settings=config)
    assert fast == reference_score(title, summary, language=language, settings=config)


@pytest.mark.parametrize(
    ("title", "summary", "language", "terms"),
    [
        ("BORGERİNDDRAGELSE", None, "da", ("borgerinddrag*",)),
        ("Citizens'\t\nassemblies", "", "en", ("citizens' assembl*",)),
        (
            "ſamſkabelse og borgerdialog",
            "medborgarråd",
            None,
            ("borgerdialog*", "samskab*", "medborgarråd*"),
        ),
        ("Skattepolitik", "Nærdemokrati og civilsamfund", "da", ("civilsamfund*", "nærdemokrati*")),
        ("Skattepolitik 2025", "Satser og fradrag", "da", ()),
        ("İnddragelse", "Nærdemokratiet", "da", ("inddragelse*", "nærdemokrati*")),
        ("Ny rapport", "Medborgarrådet om delaktighet", "sv", ("delaktighet*", "medborgarråd*")),
        ("deliberativt demokrati", None, "da", ("deliberati*", "deliberativ*", "demokrati*")),
    ],
)
def test_table_of_texts(
    title: str, summary: str | None, language: str | None, terms: tuple[str, ...]
) -> None:
    config = RelevanceSettings()
    fast = score(title, summary, language=language, settings=config)
    assert fast == reference_score(title, summary, language=language, settings=config)
    assert fast.terms == terms


def test_user_profile_with_letters_outside_the_prefilter() -> None:
    config = RelevanceSettings(profiles={"el": {"δημοκρατία*": 1.0, "ıstanbul": 1.0}})
    for title in ("ΔΗΜΟΚΡΑΤΊΑ", "δημοκρατίας", "Istanbul", "İSTANBUL"):
        fast = score(title, None, language="el", settings=config)
        assert fast == reference_score(title, None, language="el", settings=config)


def test_folding_never_loses_a_letter_the_regex_would_match() -> None:
    """Every character that IGNORECASE-matches a prefilter letter folds to that letter."""
    letters = [char for char in map(chr, range(0x250)) if char.isprintable() and char.lower()]
    letters = [char for char in letters if char.isascii() or "à" <= char <= "ÿ"]
    any_letter = re.compile("[" + re.escape("".join(letters)) + "]", re.IGNORECASE)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF or not any_letter.fullmatch(char):
            continue
        for letter in letters:
            if re.fullmatch(re.escape(letter.lower()), char, re.IGNORECASE):
                assert letter.lower() in _fold(char), (hex(code), letter)
