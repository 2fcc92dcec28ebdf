"""The README stays true: its commands exist, parse, and name files that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from fleetlab.app.cli import build_parser
from fleetlab.model.scenarios import list_scenarios

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = "\n".join(re.findall(r"```bash\n(.*?)```", README, flags=re.S))
COMMANDS = [line.split("#")[0].strip() for line in BLOCKS.splitlines() if line.strip().startswith("uv run ")]
# files the README's own commands create first (`cp notebooks/explore.py notebooks/mine.py`)
CREATED = {shlex.split(line, comments=True)[-1] for line in BLOCKS.splitlines() if line.startswith("cp ")}


def test_the_two_setup_commands_come_first():
    assert COMMANDS[:2] == ["uv run fleetlab reset", "uv run pytest"]


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith("uv run fleetlab")])
def test_fleetlab_commands_parse(command):
    argv = shlex.split(command)[3:]
    args = build_parser().parse_args(argv)  # SystemExit on an unknown flag fails the test
    assert args.func
    scenario = getattr(args, "scenario", None)
    if scenario and not scenario.endswith(".toml"):
        assert scenario in list_scenarios()


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith(("uv run python", "uv run marimo"))])
def test_referenced_files_exist(command):
    """The notebooks (or folders of them) a command names exist."""
    paths = [p for p in shlex.split(command)[2:] if p.endswith(".py") or (ROOT / p).is_dir()]
    assert paths and all((ROOT / p).exists() or p in CREATED for p in paths), command


def test_documented_environment_variables_are_read_by_config():
    config = (ROOT / "src" / "fleetlab" / "config.py").read_text()
    for name in set(re.findall(r"`((?:FLEETLAB|DATABASE)_[A-Z_]+)`", README)) - {
        "FLEETLAB_FAULT",
        "FLEETLAB_FAULT_PAUSE",
        "FLEETLAB_TEST_HOME",  # the test suite's, not a setting of fleetlab
    }:
        assert f'"{name}"' in config, name
