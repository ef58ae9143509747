"""config.yaml is a public interface: the shipped file, the README's examples, and every error."""

from __future__ import annotations

import re

import pytest

from radar.config import load_config, parse_config
from radar.errors import ConfigError
from scraper.adapters.html import HtmlSpec
from tests.conftest import ROOT

README_EXAMPLE = """
crawler:
  contact_url: https://centerforborgerdialog.dk/kontakt/
sources:
  - name: dn                      # unique, [a-z0-9-]
    title: DemocracyNext
    kind: html
    url: https://www.example.org/resources/
    language: en                  # da | sv | en | …
    item: "li.resource"           # CSS selector: one element per item
    fields:                       # CSS selector inside the item; " @attr" takes an attribute
      title: "h3.resource__title"
      link: "a.resource__link @href"
      summary: "p.resource__teaser"
      category: ".resource__type"
      date: "time @datetime"
    next_page: "a.next @href"     # optional pagination
    max_pages: 10
"""


def test_the_shipped_config_is_valid_and_names_the_real_sources() -> None:
    config = load_config(ROOT / "config.yaml")
    assert "cfb" in [source.name for source in config.sources]
    assert all(source.url.startswith("https://") for source in config.sources)


def test_every_yaml_example_in_the_readme_is_valid() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks, "the README documents the config with yaml examples"
    for block in blocks:
        parse_config(block, origin="README.md")


def test_the_issue_example_works_exactly_as_shown() -> None:
    [source] = parse_config(README_EXAMPLE).sources
    assert isinstance(source, HtmlSpec)
    assert str(source.fields.link) == "a.resource__link @href"
    assert source.fields.link.attr == "href"
    assert source.allowed_domains == ("www.example.org",)
    assert source.max_pages == 10


def test_only_the_required_keys_are_needed() -> None:
    minimal = """
crawler: {contact_url: "https://example.dk/kontakt"}
sources:
  - {name: x, kind: html, url: "https://example.dk/", item: li, fields: {title: a, link: "a @href"}}
"""
    [source] = parse_config(minimal).sources
    assert isinstance(source, HtmlSpec)
    assert source.next_page is None and source.fields.summary is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('title: "h3.resource__title"', 'title: "h3[[["'),
            "sources[0] (dn).fields.title: invalid CSS",
        ),
        (('item: "li.resource"', 'item: "li[["'), "sources[0] (dn).item: invalid CSS"),
        (
            ("max_pages: 10", "max_pages: 10\n    colour: red"),
            "sources[0] (dn).colour: unknown key",
        ),
        (("kind: html", "kind: htm"), "sources[0] (dn).kind: unknown kind 'htm'"),
        (("https://www.example.org/resources/", "ftp://x"), "sources[0] (dn).url: not an absolute"),
        (('title: "h3', 'titel: "h3'), "sources[0] (dn).fields.title: Field required"),
        (("max_pages: 10", 'schedule: "99 * * * *"'), "sources[0] (dn).schedule: invalid cron"),
        (("name: dn", "name: D N"), "sources[0] (D N).name: String should match"),
        (('link: "a.resource__link @href"', 'link: "a @"'), "sources[0] (dn).fields.link"),
        (("max_pages: 10", "max_pages: 0"), "sources[0] (dn).max_pages"),
        (("  contact_url:", "  contact:"), "crawler.contact: unknown key"),
        (
            ("  contact_url:", "  extraction_worker: sometimes\n  contact_url:"),
            "crawler.extraction_worker: Input should be a valid boolean",
        ),
    ],
)
def test_each_mistake_is_named_by_source_and_key(change: tuple[str, str], message: str) -> None:
    broken = README_EXAMPLE.replace(*change)
    assert broken != README_EXAMPLE
    with pytest.raises(ConfigError) as caught:
        parse_config(broken)
    assert message in str(caught.value)
    assert str(caught.value).startswith("config.yaml: ")


def test_duplicate_names_missing_file_and_bad_yaml_are_config_errors(tmp_path: object) -> None:
    doubled = README_EXAMPLE + README_EXAMPLE[README_EXAMPLE.index("  - name") :]
    with pytest.raises(ConfigError, match="repeated: dn"):
        parse_config(doubled)
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("sources: [")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(ROOT / "no-such-config.yaml")


def test_the_catalogue_must_be_one_of_the_sources() -> None:
    shipped = (ROOT / "config.yaml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.yaml: catalogue: 'cbf' is not the name"):
        parse_config(shipped.replace("catalogue: cfb", "catalogue: cbf"))
