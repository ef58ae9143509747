"""Shared fixtures: the fixture-site server, fast crawler settings, small generated sites."""

from __future__ import annotations

import html
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from radar.config import RadarConfig, load_config
from radar.fixture_server import FixtureServer
from scraper.adapters.html import HtmlSpec
from scraper.adapters.wordpress import WordPressSpec
from scraper.spec import CrawlerSettings

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

pytest_plugins = ["tests.db_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SITES = FIXTURES / "sites"
EXPECTED = FIXTURES / "expected"


def fast_crawler(**overrides: Any) -> CrawlerSettings:
    """Polite settings scaled down for loopback: no delays worth waiting for."""
    values: dict[str, Any] = {
        "contact_url": "https://example.dk/kontakt/",
        "host_delay": 0.0,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "max_attempts": 3,
        "timeout": 5.0,
    }
    values.update(overrides)
    return CrawlerSettings(**values)


def shipped_config(**crawler: Any) -> RadarConfig:
    """The real config.yaml, with crawler settings fit for loopback tests."""
    config = load_config(ROOT / "config.yaml")
    return config.model_copy(update={"crawler": fast_crawler(**crawler)})


def cfb_archive() -> HtmlSpec:
    """The shipped `cfb`'s fallback, the catalogue's category archive, as a source of its own.

    Nine pages with "MM | YYYY" dates: the tests of paging, page memos and crashes mid-crawl
    need them; the shipped source reads the archive only when the API is refused. Its
    expected items are in expected/cfb-archive/.
    """
    cfb = shipped_config().source("cfb")
    assert isinstance(cfb, WordPressSpec) and cfb.fallback is not None
    return cfb.fallback.model_copy(update={"name": "cfb-archive"})


def cfb_archive_yaml() -> str:
    """`cfb_archive()` as a config.yaml sources entry, for commands run as processes."""
    entry = cfb_archive().model_dump(mode="json", exclude_defaults=True) | {"kind": "html"}
    return "\n" + textwrap.indent(yaml.safe_dump([entry], allow_unicode=True), "  ")


def expected(name: str, file: str) -> Any:
    return json.loads((EXPECTED / name / file).read_text(encoding="utf-8"))


@pytest.fixture
def fixture_sites() -> Iterator[FixtureServer]:
    """The modelled real sites of tests/fixtures/sites, starting at snapshot-1."""
    with FixtureServer(SITES, snapshot="snapshot-1") as server:
        yield server


@dataclass(frozen=True)
class Entry:
    """One item of a generated listing page."""

    slug: str
    title: str
    summary: str = "Et resumé."
    date: str = "2024-04-09"


class ListingSite:
    """A small generated site in tmp_path: listing pages of `Entry`s, per snapshot."""

    host = "site.test"

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(
        self, snapshot: str, entries: Sequence[Entry], *, per_page: int = 3, encoding: str = "utf-8"
    ) -> None:
        host_dir = self.root / snapshot / self.host
        pages = [entries[i : i + per_page] for i in range(0, len(entries), per_page)] or [[]]
        for number, page in enumerate(pages, start=1):
            path = host_dir / "list" / (f"page/{number}" if number > 1 else "") / "index.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            more = number < len(pages)
            path.write_bytes(
                self.page(page, next_page=number + 1 if more else None, encoding=encoding)
            )
        if encoding != "utf-8":
            headers = {"/list/": {"Content-Type": "text/html"}}
            (host_dir / "_headers.json").write_text(json.dumps(headers), encoding="utf-8")

    def page(
        self,
        entries: Sequence[Entry],
        *,
        next_page: int | None,
        encoding: str,
        listing: str = "/list/",
    ) -> bytes:
        items = "".join(
            f'<li class="item"><h3><a href="/items/{e.slug}/?utm_source=list">'
            f"{html.escape(e.title)}</a></h3><p>{html.escape(e.summary)}</p>"
            f'<time datetime="{e.date}">{e.date}</time></li>'
            for e in entries
        )
        link = f'<a class="next" href="{listing}page/{next_page}/">Næste</a>' if next_page else ""
        text = (
            f'<!doctype html><html><head><meta charset="{encoding}"><title>Liste</title></head>'
            f"<body><ul>{items}</ul>{link}</body></html>"
        )
        return text.encode(encoding)

    def spec(self, name: str = "site", **overrides: Any) -> HtmlSpec:
        values: dict[str, Any] = {
            "name": name,
            "kind": "html",
            "url": f"https://{self.host}/list/",
            "language": "da",
            "item": "li.item",
            "fields": {
                "title": "h3 a",
                "link": "h3 a @href",
                "summary": "p",
                "date": "time @datetime",
            },
            "next_page": "a.next @href",
        }
        values.update(overrides)
        return HtmlSpec.model_validate(values)


@pytest.fixture
def listing_site(tmp_path: Path) -> ListingSite:
    return ListingSite(tmp_path / "sites")
