"""What every `radar` sub-command shares: the --config and --resolve options, exit codes,
and loading the config the one way (exit 2 naming the key, touching nothing)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from radar.config import DEFAULT_CONFIG, load_config
from radar.errors import ConfigError

if TYPE_CHECKING:
    from radar.config import RadarConfig

EXIT_FAILED = 1
EXIT_CONFIG = 2

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="The configuration file.",
)
resolve_option = click.option(
    "--resolve", multiple=True, help="HOST=127.0.0.1:PORT: fetch HOST from a local mirror."
)


def load_or_exit(config_path: Path) -> RadarConfig:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        click.echo(f"radar: config error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
