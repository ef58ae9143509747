"""Per-source identity rules: numeric ids, 8-hex codes, old and new URL schemes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from scraper.identity import identity_function
from scraper.spec import IdentityRule

SKR = IdentityRule(id_pattern=r"/publikationer/[^/]*\.(\d+)\.html$")
OECD = IdentityRule(id_pattern=r"_([0-9a-f]{8})(?:-en)?(?:\.html|/|$)")
KNOCA = IdentityRule(
    rewrite=(
        {"pattern": r"^https://knoca\.eu/", "replace": "https://www.knoca.eu/"},
        {"pattern": r"^https://www\.knoca\.eu/event/", "replace": "https://www.knoca.eu/events/"},
    )
)


def test_without_a_rule_the_canonical_url_is_the_identity() -> None:
    identity = identity_function(None)
    assert (
        identity("https://A.dk/x/?utm_source=nl#top")
        == identity("https://a.dk/x")
        == "https://a.dk/x"
    )


def test_skr_keeps_its_identity_when_the_slug_is_edited() -> None:
    identity = identity_function(SKR)
    old = (
        "https://skr.se/skr/tjanster/rapporterochskrifter/publikationer/medborgardialog.65241.html"
    )
    new = "https://skr.se/skr/tjanster/rapporterochskrifter/publikationer/medborgardialogny.65241.html"
    assert identity(old) == identity(new) == "id:65241"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.oecd.org/en/publications/innovative-citizen-participation_339306da-en.html",
        "https://www.oecd.org/en/publications/2020/06/innovative-citizen-participation_339306da.html",
        "https://www.oecd.org/en/publications/innovative-citizen-participation_339306da-en/full-report.html",
    ],
)
def test_oecd_shapes_of_one_publication_are_one_item(url: str) -> None:
    assert identity_function(OECD)(url) == "id:339306da"


def test_knoca_old_and_new_schemes_fold_together() -> None:
    identity = identity_function(KNOCA)
    old = "https://knoca.eu/event/annual-meeting/"
    new = "https://www.knoca.eu/events/annual-meeting"
    assert identity(old) == identity(new) == "https://www.knoca.eu/events/annual-meeting"


def test_an_url_the_pattern_does_not_match_falls_back_to_its_canonical_form() -> None:
    assert identity_function(SKR)("https://skr.se/om/?utm_medium=x") == "https://skr.se/om"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"id_pattern": "\\d+"}, "needs a group"),
        ({"id_pattern": "(["}, "invalid regular"),
        ({"rewrite": [{"pattern": "(", "replace": ""}]}, "invalid regular"),
    ],
)
def test_bad_rules_are_refused(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        IdentityRule.model_validate(rule)
