"""`radar digest`: e-mail each due recipient the items they have not been sent yet."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from radar.cli_common import EXIT_CONFIG, EXIT_FAILED, config_option, load_or_exit
from radar.digest_send import send_digests
from radar.errors import RadarError
from storage.db import open_database


@click.command()
@config_option
@click.option(
    "--dry-run", "dry_run", is_flag=True, help="Write .eml files instead; record nothing."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("digest-out"),
    show_default=True,
    help="Folder for --dry-run.",
)
@click.option("--recipient", default=None, help="Only this recipient's address.")
def digest(config_path: Path, dry_run: bool, out_dir: Path, recipient: str | None) -> None:
    """Send digests (SMTP settings from RADAR_SMTP_* in the environment)."""
    config = load_or_exit(config_path)
    if recipient is not None and recipient not in {r.email for r in config.digest.recipients}:
        click.echo(f"radar: config error: {recipient} is not among digest.recipients", err=True)
        sys.exit(EXIT_CONFIG)
    engine = open_database()
    try:
        report = send_digests(
            engine, config, only=recipient, dry_run_dir=out_dir if dry_run else None
        )
    except RadarError as exc:
        click.echo(f"radar: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    finally:
        engine.dispose()
    for path in report.written:
        click.echo(f"wrote {path}")
    for email in report.sent:
        click.echo(f"sent to {email}")
    if report.refused:
        click.echo(
            f"radar: refused by the server, retried next time: {', '.join(report.refused)}",
            err=True,
        )
        sys.exit(EXIT_FAILED)
