"""Items the catalogue already links to are marked in the feeds, by link, not by title."""

from __future__ import annotations

from pathlib import Path

import feedparser
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from radar.crossref import covered_keys
from radar.digest_send import candidates as digest_candidates
from radar.fixture_server import FixtureServer
from radar.pipeline import run_sources
from radar.publish import write_feeds
from scraper.fetch import Fetcher
from scraper.identity import identity_function
from storage.models import Item, ReviewState
from storage.review import set_state
from tests.conftest import fast_crawler, shipped_config
from tests.db_fixtures import make_item, record

CONFIG = shipped_config()
SKR_ITEM = (
    "https://skr.se/skr/tjanster/rapporterochskrifter/publikationer/medborgardialog.65241.html"
)
# New in SKR's snapshot-2, and cited by the catalogue's new post of the same snapshot.
CITED_NEW = (
    "https://skr.se/skr/tjanster/rapporterochskrifter/publikationer/"
    "aldresdelaktighetialdreomsorgenstodforbrukarinflytande.84655.html"
)


def test_links_match_through_each_sources_identity_rule() -> None:
    links = [
        # an edited slug still names SKR publication 65241
        "https://skr.se/skr/tjanster/rapporterochskrifter/publikationer/medborgardialogny.65241.html",
        # KNOCA's old scheme and host
        "https://knoca.eu/knoca-briefings/briefing-13/",
        # a link to a site no source watches
        "https://www.democracynext.org/resources/guide",
    ]
    covered = covered_keys(CONFIG.sources, links)
    assert covered["skr"] == {"id:65241"}
    assert covered["knoca"] == {"https://www.knoca.eu/briefings/briefing-13"}
    assert covered["vive"] == set()
    assert covered["cfb"] == set()


def test_the_feed_says_when_the_catalogue_already_has_an_item(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    cfb, skr = CONFIG.source("cfb"), CONFIG.source("skr")
    skr_key = identity_function(skr.identity)(SKR_ITEM)
    post = make_item(
        "https://centerforborgerdialog.dk/medborgardialog/",
        "Medborgardialog i styringen",
        url="https://centerforborgerdialog.dk/medborgardialog/",
        links=(SKR_ITEM.replace("medborgardialog.", "medborgardialog-ny."),),
    )
    other = make_item("id:70000", "Något helt annat", url=SKR_ITEM.replace("65241", "70000"))
    cited = make_item(skr_key, "Medborgardialog – en styrningsmodell", url=SKR_ITEM)
    record(sqlite_engine, cfb, [post])
    record(sqlite_engine, skr, [other])  # baseline
    record(sqlite_engine, skr, [other, cited])  # "cited" is announced as new

    [path, *_] = write_feeds(sqlite_engine, CONFIG, out_dir=tmp_path)
    [entry] = feedparser.parse(path.read_bytes()).entries

    assert entry.title == "Medborgardialog – en styrningsmodell"
    assert entry.summary.startswith("Allerede i kataloget")
    assert any(tag.term == "in-catalogue" for tag in entry.tags)


async def test_a_new_item_the_catalogue_cites_is_marked_end_to_end(
    fixture_sites: FixtureServer, sqlite_engine: Engine, tmp_path: Path
) -> None:
    """The catalogue's new post cites SKR's new publication: through the real API and pages."""
    specs = [CONFIG.source("cfb"), CONFIG.source("skr")]
    host_map = {host: fixture_sites.address for host in fixture_sites.hosts()}
    for snapshot in ("snapshot-1", "snapshot-2"):
        fixture_sites.snapshot = snapshot
        async with Fetcher(fast_crawler(), host_map=host_map) as fetcher:
            outcomes = await run_sources(specs, engine=sqlite_engine, fetcher=fetcher)
        assert all(outcome.ok for outcome in outcomes)

    write_feeds(sqlite_engine, CONFIG, out_dir=tmp_path)
    entries = feedparser.parse((tmp_path / "skr.atom").read_bytes()).entries
    marked = {
        entry.link for entry in entries if any(t.term == "in-catalogue" for t in entry.tags or [])
    }
    assert len(entries) == 2
    assert marked == {CITED_NEW}


def test_a_source_with_its_own_feed_only_stays_out_of_the_shared_feeds_and_digests(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    katalog, skr = CONFIG.source("cfb-katalog"), CONFIG.source("skr")
    assert CONFIG.own_feed_only == ("cfb-katalog",)
    for spec, key in ((katalog, "https://centerforborgerdialog.dk/ny/"), (skr, SKR_ITEM)):
        record(sqlite_engine, spec, [make_item("https://x.dk/baseline", "Baseline")])
        record(sqlite_engine, spec, [make_item("https://x.dk/baseline", "Baseline"),
                                     make_item(key, f"Nyt fra {spec.name}", url=key)])  # fmt: skip
    accept = ReviewState.ACCEPTED
    with Session(sqlite_engine) as session:
        set_state(session, [item.id for item in session.exec(select(Item)) if item.id], accept)
        session.commit()

    write_feeds(sqlite_engine, CONFIG, out_dir=tmp_path)

    def titles(feed: str) -> list[str]:
        return [e.title for e in feedparser.parse((tmp_path / feed).read_bytes()).entries]

    assert titles("cfb-katalog.atom") == ["Nyt fra cfb-katalog"]
    for shared in ("new.atom", "public.atom", "review.atom"):
        assert "Nyt fra cfb-katalog" not in titles(shared), shared
    assert titles("public.atom") == ["Nyt fra skr"]
    with Session(sqlite_engine) as session:
        assert [i.title for i in digest_candidates(session, CONFIG)] == ["Nyt fra skr"]


def test_an_item_that_cannot_be_an_entry_is_left_out_not_the_whole_feed(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    skr = CONFIG.source("skr")
    record(sqlite_engine, skr, [make_item("seed")])
    record(sqlite_engine, skr, [make_item("seed"), make_item("ok", "Fin"), make_item("bad")])
    with Session(sqlite_engine) as session:  # as if put in by hand: the pipeline never would
        [bad] = session.exec(select(Item).where(Item.key == "bad")).all()
        bad.url = "javascript:alert(1)"
        session.add(bad)
        session.commit()

    write_feeds(sqlite_engine, CONFIG, out_dir=tmp_path)

    entries = feedparser.parse((tmp_path / "new.atom").read_bytes()).entries
    assert [entry.title for entry in entries] == ["Fin"]
