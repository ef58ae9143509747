"""Logs: JSON lines with the source and run of every record, and never a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from radar.logs import ContextFilter, JsonFormatter, configure_logging, log_context, redact
from tests.conftest import ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SECRET = "smtp-pw-0815"


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own, writing JSON lines to a buffer through the radar filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter(secrets=(SECRET,)))
    logger = logging.getLogger("radar.test-logs")
    logger.handlers[:] = [handler]
    logger.propagate, logger.level = False, logging.DEBUG
    yield logger, stream
    logger.handlers.clear()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_line_carries_the_source_and_run_when_known(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log

    logger.info("before")
    with log_context(source="knoca"):
        logger.warning("crawling %s", "page 2")
        with log_context(run_id=42):
            logger.error("stored")
    logger.info("after")

    got = [(line["message"], line["source"], line["run_id"]) for line in lines(stream)]
    assert got == [
        ("before", None, None),
        ("crawling page 2", "knoca", None),
        ("stored", "knoca", 42),
        ("after", None, None),
    ]
    first = lines(stream)[0]
    assert set(first) == {"time", "level", "logger", "message", "source", "run_id"}
    assert first["time"].endswith("+00:00") and first["level"] == "info"
    assert first["logger"] == "radar.test-logs"


async def test_the_context_belongs_to_each_concurrent_task(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log

    async def run(source: str) -> None:
        with log_context(source=source):
            for step in range(3):
                logger.info("%s step %d", source, step)
                await asyncio.sleep(0)

    await asyncio.gather(run("cfb"), run("vive"))

    assert all(line["message"].startswith(line["source"]) for line in lines(stream))
    assert len(lines(stream)) == 6


def test_passwords_and_secret_values_are_masked_in_messages_and_tracebacks(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log

    logger.warning("database %s", "postgresql+psycopg://radar:hunter22@db.internal/radar")
    try:
        raise RuntimeError(f"login refused for password {SECRET}")
    except RuntimeError:
        logger.exception("smtp failed")

    text = stream.getvalue()
    assert "hunter22" not in text and SECRET not in text
    assert "postgresql+psycopg://radar:***@db.internal/radar" in text
    [_, failure] = lines(stream)
    assert "RuntimeError: login refused for password ***" in failure["exception"]


def test_redact_leaves_urls_without_passwords_alone() -> None:
    assert (
        redact("https://www.knoca.eu/resources?page=2") == "https://www.knoca.eu/resources?page=2"
    )
    assert redact("sqlite:////srv/radar/data/radar.db") == "sqlite:////srv/radar/data/radar.db"
    assert (
        redact("smtp://user:pw@host:25 and ftp://a:b@c")
        == "smtp://user:***@host:25 and ftp://a:***@c"
    )


def test_text_logs_stay_plain_lines_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("info", fmt="text")
        logging.getLogger("radar.pipeline").info("[cfb] via postgresql://u:pw123@h/db")
    finally:
        root.handlers[:], root.level = saved

    err = capsys.readouterr().err
    assert " INFO radar.pipeline: [cfb] via postgresql://u:***@h/db" in err


def test_radar_log_format_json_writes_json_lines_to_stderr(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text((ROOT / "config.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {
        **os.environ,
        "RADAR_DATABASE_URL": f"sqlite:///{tmp_path / 'radar.db'}",
        "RADAR_SMTP_PASSWORD": SECRET,
    }

    command = [sys.executable, "-m", "radar", "--log-format", "json", "--log-level", "info"]

    result = subprocess.run(
        [*command, "prune", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pruned 0 run(s) and 0 page memo(s)"
    logged = [json.loads(line) for line in result.stderr.splitlines()]
    keys = {"time", "level", "logger", "message", "source", "run_id"}
    assert logged and all(keys <= set(line) for line in logged)
    assert any(line["logger"] == "radar.retention" for line in logged)
    assert SECRET not in result.stderr
