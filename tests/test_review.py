"""Review states, suppression rules and relevance, and how they drive the public feeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from radar.cli import main
from radar.fixture_server import FixtureServer
from radar.publish import write_feeds
from radar.relevance import RelevanceSettings, score
from scraper.adapters.html import HtmlSpec
from storage.models import Item
from tests.conftest import Entry, ListingSite, shipped_config
from tests.test_pipeline import baseline_then_s2, crawl

SEED = [Entry("seed", "Gammel nyhed")]
NEWS = [
    Entry("a", "Borgersamlinger i praksis", "Erfaringer med deliberative processer og samskabelse"),
    Entry("b", "Skattepolitik 2025", "Satser og fradrag for erhvervslivet"),
    Entry("c", "Lokal borgerinddragelse", "Sådan inddrager kommunen borgerne i byudvikling"),
    Entry("d", "Webinar: nyt fra sekretariatet", "Tilmelding og praktisk information"),
]


@pytest.fixture
async def spec(
    listing_site: ListingSite, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> HtmlSpec:
    """A source whose second run announced the four NEWS items; the CLI uses its database.

    The CLI runs in an empty directory: no config.yaml, so decisions write no feeds there.
    """
    monkeypatch.chdir(tmp_path)
    listing_site.write("s1", SEED)
    listing_site.write("s2", [*NEWS, *SEED], per_page=10)
    source = await baseline_then_s2(listing_site, engine)
    monkeypatch.setenv("RADAR_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return source


def radar(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def listed(state: str = "new") -> list[dict[str, Any]]:
    result = radar("review", "list", "--state", state, "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


def ids_by_title() -> dict[str, int]:
    return {row["title"]: row["id"] for row in listed()}


def feed_titles(
    engine: Engine, spec: HtmlSpec, tmp_path: Path, name: str, **config: Any
) -> list[str]:
    base = shipped_config()
    settings = base.model_copy(update={"sources": (spec,), "catalogue": None, **config})
    paths = {path.stem: path for path in write_feeds(engine, settings, out_dir=tmp_path)}
    parsed = feedparser.parse(paths[name].read_bytes())
    assert not parsed.bozo
    return [entry.title for entry in parsed.entries]


def test_relevance_is_transparent_and_language_aware() -> None:
    settings = RelevanceSettings()
    danish = score(
        "Borgersamlinger i praksis", "deliberative processer", language="da", settings=settings
    )
    off_topic = score("Skattepolitik 2025", "Satser og fradrag", language="da", settings=settings)
    swedish = score("Medborgardialog i styrningen", None, language="sv", settings=settings)
    english = score(
        "Catching the deliberative wave", "citizens' assemblies", language="en", settings=settings
    )
    assert danish.score > 0.5 and "borgersamling*" in danish.terms
    assert off_topic.score == 0 and off_topic.terms == ()
    assert swedish.score > 0 and swedish.terms[0] == "medborgardialog*"
    assert "citizens' assembl*" in english.terms


async def test_the_review_queue_is_most_relevant_first(spec: HtmlSpec) -> None:
    rows = listed()
    assert [row["title"] for row in rows][:2] == [
        "Borgersamlinger i praksis",
        "Lokal borgerinddragelse",
    ]
    assert rows[0]["relevance"] >= rows[1]["relevance"] > rows[-1]["relevance"] == 0
    assert "borgersamling*" in rows[0]["terms"]


async def test_a_silent_baseline_is_stored_unassessed_and_later_items_are_scored(
    listing_site: ListingSite, engine: Engine
) -> None:
    # No feed, digest or review list shows a baseline item, so its score is never read.
    relevant = Entry("old", "Borgerinddragelse i kommunen", "Samskabelse og dialog")
    listing_site.write("s1", [relevant])
    listing_site.write("s2", [NEWS[0], relevant], per_page=10)

    await baseline_then_s2(listing_site, engine)

    with Session(engine) as session:
        rows = {row.title: row for row in session.exec(select(Item))}
    baseline, announced = rows["Borgerinddragelse i kommunen"], rows[NEWS[0].title]
    assert (baseline.announced, baseline.relevance, baseline.matched_terms) == (False, 0.0, [])
    assert announced.announced and announced.relevance > 0
    assert "borgersamling*" in announced.matched_terms


async def test_decisions_drive_the_public_feed_at_once(
    spec: HtmlSpec, engine: Engine, tmp_path: Path
) -> None:
    ids = ids_by_title()
    assert feed_titles(engine, spec, tmp_path, "public") == []

    assert radar("review", "accept", str(ids["Borgersamlinger i praksis"])).exit_code == 0
    assert radar("review", "dismiss", str(ids["Skattepolitik 2025"])).exit_code == 0
    duplicate = radar(
        "review",
        "duplicate",
        str(ids["Lokal borgerinddragelse"]),
        "--of",
        str(ids["Borgersamlinger i praksis"]),
    )
    assert duplicate.exit_code == 0

    assert feed_titles(engine, spec, tmp_path, "public") == ["Borgersamlinger i praksis"]
    assert [row["title"] for row in listed()] == ["Webinar: nyt fra sekretariatet"]
    assert feed_titles(engine, spec, tmp_path, "review") == ["Webinar: nyt fra sekretariatet"]

    assert radar("review", "undo", str(ids["Borgersamlinger i praksis"])).exit_code == 0
    assert feed_titles(engine, spec, tmp_path, "public") == []
    assert len(feed_titles(engine, spec, tmp_path, "new")) == 4  # the all-new feed keeps everything


async def test_wrong_ids_are_refused_without_changing_anything(spec: HtmlSpec) -> None:
    ids = ids_by_title()
    missing = radar("review", "accept", str(ids["Skattepolitik 2025"]), "99999")
    itself = radar("review", "duplicate", "5", "--of", "5")
    assert (missing.exit_code, itself.exit_code) == (2, 2)
    assert "no item with id 99999" in missing.output
    assert len(listed()) == 4


async def test_suppression_rules_dismiss_now_and_later_and_are_reversible(
    spec: HtmlSpec, listing_site: ListingSite, engine: Engine
) -> None:
    made = radar(
        "review", "suppress", "--field", "title", "--pattern", "^webinar", "--note", "Arrangementer"
    )
    assert made.exit_code == 0 and "1 unreviewed item(s) dismissed" in made.output
    assert "Webinar: nyt fra sekretariatet" not in ids_by_title()

    listing_site.write("s3", [Entry("e", "WEBINAR om budgetter"), *NEWS, *SEED], per_page=10)
    with FixtureServer(listing_site.root, snapshot="s3") as server:
        [outcome] = await crawl(server, engine, [spec])
    assert outcome.new == 1
    assert [row["title"] for row in listed("dismissed")] == [
        "WEBINAR om budgetter",
        "Webinar: nyt fra sekretariatet",
    ]

    rule_id = radar("review", "rules").output.split("\t")[0]
    restored = radar("review", "unsuppress", rule_id)
    assert "2 item(s) back to new" in restored.output
    assert listed("dismissed") == []


async def test_without_review_the_public_feed_is_every_item_above_the_threshold(
    spec: HtmlSpec, engine: Engine, tmp_path: Path
) -> None:
    base = shipped_config()
    config: dict[str, Any] = {"review": base.review.model_copy(update={"enabled": False})}
    titles = feed_titles(engine, spec, tmp_path, "public", **config)
    assert set(titles) == {"Borgersamlinger i praksis", "Lokal borgerinddragelse"}


async def test_a_decision_on_the_command_line_rewrites_the_feeds(
    spec: HtmlSpec, tmp_path: Path
) -> None:
    out = tmp_path / "feeds"
    source = spec.model_dump(mode="json", exclude_defaults=True) | {"kind": "html"}
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "crawler": {"contact_url": "https://example.dk/kontakt/"},
                "feed": {"out_dir": str(out)},
                "sources": [source],
            }
        ),
        encoding="utf-8",
    )
    ids = ids_by_title()

    accepted = radar("review", "--config", str(config), "accept", str(ids["Skattepolitik 2025"]))

    assert accepted.exit_code == 0, accepted.output
    public = feedparser.parse((out / "public.atom").read_bytes())
    assert [entry.title for entry in public.entries] == ["Skattepolitik 2025"]
    broken = config.read_text(encoding="utf-8").replace("sources:", "sorces:")
    config.write_text(broken, encoding="utf-8")
    refused = radar("review", "--config", str(config), "undo", str(ids["Skattepolitik 2025"]))
    assert refused.exit_code == 2
    assert [row["title"] for row in listed("accepted")] == ["Skattepolitik 2025"]
