"""Items the catalogue already links to are marked in the feeds, by link, not by title."""

from __future__ import annotations

from pathlib import Path

import feedparser
from sqlalchemy.engine import Engine

from radar.crossref import covered_keys
from radar.publish import write_feeds
from scraper.identity import identity_function
from tests.conftest import shipped_config
from tests.db_fixtures import make_item, record

CONFIG = shipped_config()
SKR_ITEM = (
    "https://skr.se/skr/tjanster/rapporterochskrifter/publikationer/medborgardialog.65241.html"
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
