"""The `radar` command line: run, feed, status, demo.

Exit codes: 0 all is well; 1 a source failed (the others are still committed);
2 usage or config error (nothing was touched).
"""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from radar.alerts import install as install_alerts
from radar.cli_common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    LazyGroup,
    config_option,
    load_or_exit,
    parse_resolve,
    resolve_option,
    select_sources,
)
from radar.errors import ConfigError, RadarError
from radar.logs import FORMATS, LEVELS, configure_logging
from radar.runner import run_once
from radar.runtime import after_imports
from scraper.adapters import known_kinds
from storage.db import open_database

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from rich.console import Console

    from radar.runs import RunOutcome


HELP = f"Inspiration Radar: new inspiration from the sources (kinds: {', '.join(known_kinds())})."


# The commands kept in their own modules, imported only when they run (or for --help): a
# `radar run` from cron does not pay for the review page, the digests or Celery.
LAZY_COMMANDS = {
    "review": "radar.cli_review:review",
    "digest": "radar.cli_digest:digest",
    "web": "radar.cli_web:web",
    "user": "radar.cli_web:user",
    "worker": "radar.cli_worker:worker",
    "rebaseline": "radar.cli_rebaseline:rebaseline",
}


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS, help=HELP)
@click.option("--log-level", type=click.Choice(LEVELS), default="warning", show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="json: one JSON object per line on stderr (time, level, logger, message, source, run_id).",
)
def main(log_level: str, log_format: str) -> None:
    configure_logging(log_level, fmt=log_format)
    after_imports()


@contextmanager
def _progress(total: int) -> Iterator[Callable[[RunOutcome], None]]:
    """On a terminal: a progress bar and a line per finished source. Elsewhere: silence."""
    if not sys.stdout.isatty():
        yield lambda outcome: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("Crawling sources", total=total)

        def report(outcome: RunOutcome) -> None:
            _print_outcome(progress.console, outcome)
            progress.advance(task)

        yield report


def _print_outcome(console: Console, outcome: RunOutcome) -> None:
    colour = "green" if outcome.ok else "red"
    console.print(
        f"[bold]{outcome.source}[/]: [{colour}]{outcome.status}[/] – {outcome.items} items "
        f"on {outcome.pages} pages; {outcome.new} new, {outcome.changed} changed, "
        f"{outcome.removed} removed, {outcome.reappeared} back",
        highlight=False,
    )
    if outcome.error:
        console.print(f"  {outcome.error}", markup=False, highlight=False)


@main.command()
@config_option
@click.option("--source", "sources", multiple=True, help="Run only this source (repeatable).")
@resolve_option
def run(config_path: Path, sources: tuple[str, ...], resolve: tuple[str, ...]) -> None:
    """Crawl the sources once and record what changed."""
    config = load_or_exit(config_path)
    specs = select_sources(config, sources)
    install_alerts(config.alerts, timezone=config.scheduler.zone)
    with _progress(len(specs)) as report:
        outcomes = run_once(config, specs, host_map=parse_resolve(resolve), on_done=report)
    failed = [outcome.source for outcome in outcomes if not outcome.ok]
    if failed:
        click.echo(f"radar: source(s) not fully successful: {', '.join(failed)}", err=True)
        sys.exit(EXIT_FAILED)


@main.command()
@config_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the .atom files (default: feed.out_dir from config).",
)
def feed(config_path: Path, out_dir: Path | None) -> None:
    """Write new.atom and one <source>.atom per source."""
    from radar.publish import write_feeds

    config = load_or_exit(config_path)
    engine = open_database()
    try:
        paths = write_feeds(engine, config, out_dir=out_dir)
    finally:
        engine.dispose()
    for path in paths:
        click.echo(str(path))


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(config_path: Path, as_json: bool) -> None:
    """Show each source's last run, status and item counts."""
    from rich.console import Console

    from radar.status import status_rows, status_table

    config = load_or_exit(config_path)
    engine = open_database()
    try:
        rows = status_rows(engine, config)
    finally:
        engine.dispose()
    if as_json:
        payload: list[dict[str, Any]] = [row.as_json() for row in rows]
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        Console().print(status_table(rows))


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Configuration to demo (default: the bundled config.yaml).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("radar-demo"),
    show_default=True,
    help="Folder for the demo database and feeds.",
)
def demo(config_path: Path | None, out_dir: Path) -> None:
    """Run the pipeline offline on two bundled snapshots of the sources and write feeds."""
    from rich.console import Console

    from radar.demo import run_demo

    try:
        run_demo(out_dir=out_dir, config_path=config_path, console=Console())
    except ConfigError as exc:
        click.echo(f"radar: config error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except RadarError as exc:
        click.echo(f"radar: {exc}", err=True)
        sys.exit(EXIT_FAILED)


@main.command()
@config_option
@click.option("--source", "sources", multiple=True, help="Check only this source (repeatable).")
@resolve_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def check(
    config_path: Path, sources: tuple[str, ...], resolve: tuple[str, ...], as_json: bool
) -> None:
    """Crawl once, store nothing: items found, field coverage and samples per source."""
    from rich.console import Console
    from rich.text import Text

    from radar.check import check_sources, check_table

    config = load_or_exit(config_path)
    specs = select_sources(config, sources)
    reports = asyncio.run(check_sources(config, specs, host_map=parse_resolve(resolve)))
    if as_json:
        click.echo(json.dumps([r.as_json() for r in reports], ensure_ascii=False, indent=2))
    else:
        console = Console()
        console.print(check_table(reports))
        for r in reports:
            for item in r.samples:
                console.print(Text(f"  {r.source}: {item.title} – {item.url}"))
    if not all(r.ok for r in reports):
        sys.exit(EXIT_FAILED)


@main.command()
@config_option
@click.argument("source")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@resolve_option
def snapshot(config_path: Path, source: str, out_dir: Path, resolve: tuple[str, ...]) -> None:
    """Save the raw answers of one crawl of SOURCE under OUT_DIR, as fixture files."""
    from radar.snapshot import SnapshotWriter
    from scraper.adapters import adapter_for
    from scraper.fetch import Fetcher

    config = load_or_exit(config_path)
    [spec] = select_sources(config, [source])
    writer = SnapshotWriter(out_dir)

    async def crawl() -> None:
        async with Fetcher(
            config.crawler, host_map=parse_resolve(resolve), on_response=writer
        ) as fetcher:
            await adapter_for(spec.kind).crawl(spec, fetcher=fetcher, memos={})

    asyncio.run(crawl())
    for path in writer.finish():
        click.echo(str(path))


@main.command()
@config_option
@resolve_option
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus metrics on 127.0.0.1:PORT (needs prometheus-client).",
)
@click.option(
    "--dispatch",
    is_flag=True,
    help="Enqueue due sources for `radar worker`s (RADAR_BROKER_URL) instead of running them.",
)
def schedule(
    config_path: Path, resolve: tuple[str, ...], metrics_port: int | None, dispatch: bool
) -> None:
    """Run each source on its schedule until SIGTERM/SIGINT; SIGHUP reloads the config."""
    from radar.metrics import PACKAGE, Metrics, available
    from radar.schedule import run_daemon

    config = load_or_exit(config_path)
    host_map = parse_resolve(resolve)
    if dispatch:
        from radar.cli_worker import schedule_dispatch

        schedule_dispatch(config_path, config, metrics_port=metrics_port)
        return
    if metrics_port is not None and not available():
        click.echo(f"radar: --metrics-port needs the {PACKAGE} package", err=True)
        sys.exit(EXIT_CONFIG)
    metrics = Metrics() if metrics_port is not None else None
    engine = open_database()
    try:
        if metrics is not None and metrics_port is not None:
            metrics.serve(metrics_port)
        sys.exit(run_daemon(config_path, config, engine=engine, host_map=host_map, metrics=metrics))
    except OSError as exc:
        click.echo(f"radar: cannot serve metrics on 127.0.0.1:{metrics_port}: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    finally:
        if metrics is not None:
            metrics.close()
        engine.dispose()


@main.command(name="prune")
@config_option
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def prune_command(config_path: Path, dry_run: bool) -> None:
    """Delete old runs without events and stale page memos (retention: in config)."""
    from radar.retention import prune

    config = load_or_exit(config_path)
    engine = open_database()
    try:
        report = prune(engine, config.retention, dry_run=dry_run)
    finally:
        engine.dispose()
    verb = "would prune" if dry_run else "pruned"
    click.echo(f"{verb} {report.runs} run(s) and {report.memos} page memo(s)")
