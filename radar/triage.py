"""Assessing items as they are stored: relevance score, and suppression rules.

Suppression rules are data (radar review suppress …): a pattern on a source's titles,
summaries or URLs that editors dismissed once and never want to see again. A new item
that matches is stored dismissed, with the rule that did it, so undoing the rule can
bring it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from radar.relevance import RelevanceSettings, Scorer
from storage.new_items import Assessment
from storage.review import suppressible_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from radar.items import ExtractedItem
    from storage.models import SuppressionRule


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: int
    field: str
    pattern: re.Pattern[str]


def compile_rules(rules: Sequence[SuppressionRule], *, source: str) -> list[CompiledRule]:
    """The active rules that apply to `source`, compiled; a broken pattern is skipped."""
    compiled = []
    for rule in rules:
        if not rule.active or rule.id is None or rule.source_name not in (None, source):
            continue
        try:
            compiled.append(CompiledRule(rule.id, rule.field, re.compile(rule.pattern, re.I)))
        except re.error:
            continue
    return compiled


class Triage:
    """Callable assessing one item of one source, for storage.new_items.RunContext.assess."""

    def __init__(self, settings: RelevanceSettings | None, rules: Sequence[CompiledRule]) -> None:
        self.score = Scorer(settings or RelevanceSettings())
        self.rules = rules

    def __call__(self, item: ExtractedItem) -> Assessment:
        relevance = self.score(item.title, item.summary, language=item.language)
        return Assessment(
            relevance=relevance.score, terms=relevance.terms, suppressed_by=self._rule_for(item)
        )

    def _rule_for(self, item: ExtractedItem) -> int | None:
        for rule in self.rules:
            text = suppressible_text(
                rule.field, title=item.title, summary=item.summary, url=item.url
            )
            if rule.pattern.search(text):
                return rule.id
        return None
