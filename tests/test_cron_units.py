"""What cron/ installs: every command it runs is a real `radar` sub-command with real options.

The systemd units are read as systemd reads them (ini sections) and, where
`systemd-analyze` is installed, verified by it.
"""

from __future__ import annotations

import configparser
import logging
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from radar.cli import main
from tests.conftest import ROOT

CRON = ROOT / "cron"
UNITS = sorted(CRON.glob("*.service")) + sorted(CRON.glob("*.timer"))
SERVICES = sorted(CRON.glob("*.service"))
TIMERS = sorted(CRON.glob("*.timer"))
INSTALLED_RADAR = "/opt/radar/venv/bin/radar"
GLOBAL_OPTIONS_WITH_VALUES = {"--log-format", "--log-level"}


def help_text(*args: str) -> str:
    """`radar [SUB] --help`, in-process; the logging it sets up is undone afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        result = CliRunner().invoke(main, [*args, "--help"])
    finally:
        root.handlers[:], root.level = saved
    assert result.exit_code == 0, result.output
    return result.output


def subcommands() -> set[str]:
    listed = help_text().partition("Commands:")[2]
    return {line.split()[0] for line in listed.splitlines() if line.strip()}


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def radar_invocation(words: list[str]) -> tuple[str, list[str]]:
    """The sub-command and its options in `radar [global options] SUB [options]`."""
    rest = iter(words)
    for word in rest:
        if word in GLOBAL_OPTIONS_WITH_VALUES:
            next(rest)
        elif not word.startswith("-"):
            return word, [w.split("=")[0] for w in rest if w.startswith("--")]
    raise AssertionError(f"no sub-command in {words}")


def check_radar_command(words: list[str]) -> str:
    command, options = radar_invocation(words)
    assert command in subcommands(), f"radar {command}: not a sub-command"
    sub_help = help_text(command)
    for option in options:
        assert option in sub_help, f"radar {command} has no {option}"
    return command


def test_units_are_there() -> None:
    names = {path.name for path in UNITS}
    assert {"radar-run.service", "radar-run.timer", "radar-schedule.service"} <= names


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_every_service_runs_real_radar_sub_commands(path: Path) -> None:
    service = unit(path)["Service"]
    commands = [
        shlex.split(service[key])
        for key in ("ExecStart", "ExecStartPre", "ExecStartPost", "ExecStopPost")
        if key in service
    ]

    ran = [check_radar_command(words[1:]) for words in commands if words[0] == INSTALLED_RADAR]

    assert ran, f"{path.name} runs no radar command"
    assert service["Type"] in {"oneshot", "exec", "simple"}


def test_the_daemon_service_reloads_with_sighup_and_stops_with_sigterm() -> None:
    service = unit(CRON / "radar-schedule.service")["Service"]
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > 60  # above scheduler.stop_timeout's default


@pytest.mark.parametrize("path", TIMERS, ids=lambda p: p.name)
def test_every_timer_starts_a_service_of_ours(path: Path) -> None:
    timer = unit(path)
    assert (CRON / timer["Timer"]["Unit"]).is_file()
    assert timer["Timer"]["OnCalendar"].endswith("Europe/Copenhagen")
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_the_crontab_runs_real_sub_commands_and_crawls_under_flock() -> None:
    jobs = [
        line
        for line in (CRON / "crontab").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and not re.match(r"^[A-Z_]+=", line)
    ]
    used = {word for job in jobs for word in re.findall(r"\$RADAR (\w+)", job)}

    crawling = [job for job in jobs if "$RADAR run" in job or "$RADAR prune" in job]
    assert crawling and all("flock -n /tmp/radar-run.lock" in job for job in crawling)
    assert used == {"run", "feed", "prune", "digest"}
    assert used <= subcommands()


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed; the units were only parsed")
    radar = Path(sys.executable).with_name("radar")
    if not radar.is_file():
        pytest.skip(f"no radar executable beside {sys.executable} to stand in for the real one")
    for path in UNITS:
        text = path.read_text(encoding="utf-8").replace(INSTALLED_RADAR, str(radar))
        (tmp_path / path.name).write_text(text, encoding="utf-8")

    result = subprocess.run(
        [analyze, "verify", *(str(tmp_path / path.name) for path in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Unknown" not in output and "Failed" not in output, output
