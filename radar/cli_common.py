"""What every `radar` sub-command shares: the --config and --resolve options, exit codes,
and loading the config the one way (exit 2 naming the key, touching nothing)."""

from __future__ import annotations

import importlib
import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from radar.config import DEFAULT_CONFIG, load_config
from radar.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from radar.config import RadarConfig
    from scraper.spec import SourceSpec

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


class LazyGroup(click.Group):
    """A command group whose `lazy_commands` ({name: "module:attribute"}) are imported only
    when one of them is asked for, by name or by --help (click's documented recipe)."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy_commands.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


def load_or_exit(config_path: Path) -> RadarConfig:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        click.echo(f"radar: config error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def select_sources(config: RadarConfig, names: Sequence[str]) -> list[SourceSpec]:
    """The named sources (every enabled one when none is named); exit 2 naming any unknown."""
    if not names:
        return [spec for spec in config.sources if spec.enabled]
    unknown = [name for name in names if name not in {spec.name for spec in config.sources}]
    if unknown:
        click.echo(f"radar: config error: unknown source(s): {', '.join(unknown)}", err=True)
        sys.exit(EXIT_CONFIG)
    return [config.source(name) for name in names]


def parse_resolve(values: Sequence[str]) -> dict[str, str] | None:
    """HOST=127.0.0.1:PORT pairs; only loopback targets, so nothing leaves the machine."""
    if not values:
        return None
    mapping = {}
    for value in values:
        host, _, address = value.partition("=")
        ip, _, port = address.rpartition(":")
        try:
            loopback = ipaddress.ip_address(ip).is_loopback and port.isdigit()
        except ValueError:
            loopback = False
        if not host or not loopback:
            raise click.BadParameter(
                f"{value!r}: expected HOST=127.0.0.1:PORT", param_hint="--resolve"
            )
        mapping[host.lower()] = address
    return mapping
