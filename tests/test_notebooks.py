"""The marimo notebooks: headless runs, `marimo check`, and the nbval snapshots.

The snapshots (notebooks/snapshots/*.ipynb) are made by `scripts/snapshot_notebooks.py`; these
tests show that a snapshot out of date with its marimo source is caught, that nbval passes on a
freshly reset database, and that nbval fails when the generated data changes.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import notebook_snapshots as snapshots
import psycopg
import pytest

from fleetlab.app import notebook, options
from fleetlab.app.cli import build_fleet
from fleetlab.errors import ConfigError
from fleetlab.store.reset import reset

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def run(cmd: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def counts(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("organizations", "factories", "gateways")
        )


def reset_with(settings, argv: list[str]) -> None:
    reset(settings, build_fleet(notebook.parser().parse_args(argv)))


# -- headless runs --------------------------------------------------------------------------


def test_reset_script_loads_the_requested_fleet(cli_env, settings):
    argv = ["--orgs", "2", "--factories-per-org", "2", "--gateways-per-factory", "3", "--seed", "1"]
    proc = run([sys.executable, "notebooks/reset.py", *argv], cli_env)
    assert proc.returncode == 0, proc.stderr
    assert counts(settings.database_url) == (2, 4, 12)
    assert "gateways" in proc.stdout and "12 rows" in proc.stdout


def test_reset_script_fails_with_a_message_not_a_traceback(cli_env, settings):
    proc = run([sys.executable, "notebooks/reset.py", "--orgs", "-1", "--as-of", "yesterday"], cli_env)
    assert proc.returncode == 2
    assert "--orgs" in proc.stderr and "--as-of" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run([sys.executable, "notebooks/reset.py", "--no-such-flag"], cli_env)
    assert proc.returncode == 2 and "unrecognized arguments: --no-such-flag" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_explore_exports_without_a_cell_error(cli_env, settings, tmp_path):
    reset_with(settings, shlex.split(snapshots.SNAPSHOT_ARGS))
    out = tmp_path / "explore.html"
    proc = run([sys.executable, "-m", "marimo", "export", "html", "notebooks/explore.py", "-o", str(out)], cli_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.stat().st_size > 0


def test_marimo_check_is_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "marimo", "check", "notebooks/"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


# -- flags ----------------------------------------------------------------------------------


def test_form_passes_only_the_fields_that_differ_from_the_scenario():
    own = notebook.form_defaults("default")
    # unchanged counts would turn the hand-written default fleet into a generated one
    assert options.changed("default", own) == {}
    assert notebook.build_fleet("default", own).scenario["source"] == "acme"
    changed = {**own, "organizations": "2", "seed": " 5 "}
    assert options.changed("default", changed) == {"organizations": "2", "seed": "5"}
    assert notebook.command_line("default", changed) == "fleetlab reset --scenario default --orgs 2 --seed 5"
    assert notebook.build_fleet("default", changed).counts()["organizations"] == 2


def test_form_fields_and_flags_come_from_one_table():
    flags = {a.option_strings[0] for a in notebook.parser()._actions if a.option_strings}
    assert {o.flag for o in options.OPTIONS} <= flags
    assert list(notebook.form_defaults("multi-tenant")) == [o.name for o in options.OPTIONS]


def test_marimo_cli_args_become_the_same_flags():
    given = notebook.from_cli_args({"orgs": 2, "factories-per-org": "2-3", "scenario": "multi-tenant"})
    assert given == notebook.parser().parse_args(["--orgs", "2", "--factories-per-org", "2-3", "--scenario", "multi-tenant"])
    with pytest.raises(ConfigError, match="unrecognized arguments: --verbose"):
        notebook.from_cli_args({"verbose": True})


# -- snapshots ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", snapshots.SNAPSHOTTED)
def test_snapshot_matches_its_marimo_source(name):
    problems = snapshots.differences(NOTEBOOKS / f"{name}.py", snapshots.SNAPSHOTS / f"{name}.ipynb")
    assert not problems, f"{problems}; run `uv run python scripts/snapshot_notebooks.py`"


def test_an_edited_notebook_makes_its_snapshot_stale(tmp_path):
    copy = tmp_path / "reset.py"
    shutil.copy(NOTEBOOKS / "reset.py", copy)
    text = copy.read_text()
    assert 'label="Scenario"' in text
    copy.write_text(text.replace('label="Scenario"', 'label="Scenario name"'))
    problems = snapshots.differences(copy, snapshots.SNAPSHOTS / "reset.ipynb")
    assert len(problems) == 1 and "differs" in problems[0]


def test_snapshots_hold_no_secret():
    for path in snapshots.SNAPSHOTS.glob("*.ipynb"):
        text = path.read_text()
        assert "password_encrypted" not in text, path
        assert "FLEETLAB_SECRET_KEY=" not in text and "postgresql://" not in text, path


def nbval(paths: list[Path], env: dict[str, str]) -> subprocess.CompletedProcess:
    return run(snapshots.nbval_command(paths), env)


def test_snapshots_pass_nbval_on_a_freshly_reset_database(cli_env, settings):
    # the reset snapshot resets the test database with the snapshot scenario; explore then reads it
    env = {**cli_env, **snapshots.snapshot_env(settings.database_url)}
    paths = [snapshots.SNAPSHOTS / f"{name}.ipynb" for name in snapshots.SNAPSHOTTED]
    proc = nbval(paths, env)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert " passed" in proc.stdout


def test_nbval_fails_when_the_data_changes(cli_env, settings):
    argv = shlex.split(snapshots.SNAPSHOT_ARGS)
    argv[argv.index("--seed") + 1] = "8"
    reset_with(settings, argv)
    env = {**cli_env, **snapshots.snapshot_env(settings.database_url)}
    proc = nbval([snapshots.SNAPSHOTS / "explore.ipynb"], env)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "mismatch" in proc.stdout.lower()
