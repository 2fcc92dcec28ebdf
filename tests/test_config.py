"""Settings: FLEETLAB_HOME's default does not depend on the folder a command starts in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fleetlab.config import Settings, default_home

ROOT = Path(__file__).resolve().parents[1]


def test_the_default_home_is_in_the_project_root_from_any_folder_of_it(tmp_path):
    project = tmp_path / "project"
    deep = project / "notebooks" / "snapshots"
    deep.mkdir(parents=True)
    (project / ".git").mkdir()
    (project / "notebooks" / "pyproject.toml").write_text("")  # a nested package: the checkout still wins
    for where in (project, project / "notebooks", deep):
        assert default_home(where) == project / ".fleetlab"


def test_without_git_the_nearest_pyproject_decides(tmp_path):
    (tmp_path / "app" / "src").mkdir(parents=True)
    (tmp_path / "app" / "pyproject.toml").write_text("")
    assert default_home(tmp_path / "app" / "src") == tmp_path / "app" / ".fleetlab"


def test_outside_any_project_the_user_data_folder(tmp_path):
    lone = tmp_path / "lone"
    lone.mkdir()
    if any((p / ".git").exists() or (p / "pyproject.toml").exists() for p in (lone, *lone.parents)):
        return  # the temporary folder itself sits in a project: nothing to check here
    assert default_home(lone, {"XDG_DATA_HOME": str(tmp_path / "data")}) == tmp_path / "data" / "fleetlab"
    assert default_home(lone, {}) == Path.home() / ".local" / "share" / "fleetlab"


def test_fleetlab_home_wins_and_a_kernel_in_a_subfolder_finds_the_projects_home():
    assert Settings.from_env({"FLEETLAB_HOME": "/srv/fl"}).home == Path("/srv/fl")
    env = {k: v for k, v in os.environ.items() if k != "FLEETLAB_HOME"}
    code = "from fleetlab.config import Settings; print(Settings.from_env().pgdata)"
    for cwd in (ROOT, ROOT / "tests" / "notebooks"):
        done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(ROOT / ".fleetlab" / "pgdata")
