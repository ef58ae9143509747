"""`radar rebaseline NAME…`: take a source as it is now, after a change an operator checked.

A redesign makes runs look broken (far fewer items, a field gone, every item new under new
URLs), and such runs are set aside as suspect, run after run. Once the site has been looked
at (and its selectors or identity rules fixed, if need be), this makes the source's next
finished run a silent baseline: what it finds becomes the usual, and nothing of it is
announced. A listing that yields nothing at all is still held back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from radar.cli_common import config_option, load_or_exit, select_sources
from radar.runs import request_rebaseline
from storage.db import open_database

if TYPE_CHECKING:
    from pathlib import Path


@click.command()
@config_option
@click.argument("names", nargs=-1, required=True)
def rebaseline(config_path: Path, names: tuple[str, ...]) -> None:
    """Make each source's next run a silent baseline (after a redesign you have checked)."""
    config = load_or_exit(config_path)
    select_sources(config, names)  # exits 2 naming a source the config does not have
    engine = open_database()
    try:
        known = request_rebaseline(engine, names)
    finally:
        engine.dispose()
    for name in names:
        if name in known:
            click.echo(f"{name}: its next run is a silent baseline; nothing of it is announced")
        else:
            click.echo(f"{name}: never run; its first run is a silent baseline anyway")
