"""The marimo notebooks: headless runs, `marimo check`, and the nbval snapshots.

The snapshots (tests/notebooks/*.ipynb) are made by `scripts/snapshot_notebooks.py`; these
tests show that a snapshot out of date with its marimo source is caught, that nbval passes on a
freshly reset database, and that nbval fails when the generated data changes.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import snapshot_diff
import snapshot_worlds as snapshots
from suite_server import TEST_KEY

from fleetlab.app import notebook, options, reset_app
from fleetlab.config import Settings
from fleetlab.errors import ConfigError
from fleetlab.model.tables import TABLES
from fleetlab.store.reset import reset

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
DEFAULT = snapshots.DEFAULT_ARGS


def run(cmd: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def counts(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("organizations", "factories", "gateways")
        )


def reset_with(settings, argv: list[str]) -> None:
    reset(settings, options.fleet_for(notebook.parser().parse_args(argv)))


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
    reset_with(settings, shlex.split(DEFAULT))
    out = tmp_path / "explore.html"
    proc = run([sys.executable, "-m", "marimo", "export", "html", "notebooks/explore.py", "-o", str(out)], cli_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.stat().st_size > 0


def marimo_notebooks() -> list[Path]:
    """Every marimo notebook of the project: those in notebooks/ and every snapshot's source."""
    import nbformat

    sources = {ROOT / snapshots.Recipe.of(nbformat.read(p, as_version=4)).source for p in snapshots.snapshots()}
    return sorted(set(NOTEBOOKS.glob("*.py")) | sources)


def test_marimo_check_is_clean_on_every_notebook():
    paths = marimo_notebooks()
    assert {p.name for p in paths} >= {"reset.py", "explore.py", "compare.py"}
    proc = subprocess.run(
        [sys.executable, "-m", "marimo", "check", "--strict", *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
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
    assert given == notebook.parser().parse_args(
        ["--orgs", "2", "--factories-per-org", "2-3", "--scenario", "multi-tenant"]
    )
    with pytest.raises(ConfigError, match="unrecognized arguments: --verbose"):
        notebook.from_cli_args({"verbose": True})


# -- the reset app: the database now, the confirmation, the preview's soft-deleted rows -----------


@pytest.mark.parametrize(
    "argv",
    [
        DEFAULT,
        "--scenario multi-tenant --seed 3",
        "--scenario default",
        "--scenario large --orgs 2 --factories-per-org 2-4 --gateways-per-factory 300 --seed 2",
    ],
)
def test_the_preview_counts_the_soft_deleted_rows_of_the_fleet_it_would_load(argv):
    fleet = options.fleet_for(notebook.parser().parse_args(shlex.split(argv)))
    made = fleet.materialize().frames()  # every row, made: what the reset would load
    frame = reset_app.preview_counts(fleet)
    assert frame["table"].to_list() == list(TABLES)
    assert frame["rows"].to_list() == [made[t].height for t in TABLES]
    assert frame["soft-deleted"].to_list() == [made[t]["deleted_at"].is_not_null().sum() for t in TABLES]
    assert frame["active"].to_list() == [made[t]["deleted_at"].is_null().sum() for t in TABLES]
    if argv == "--scenario multi-tenant --seed 3":
        assert all(n > 0 for n in frame["soft-deleted"])  # off-boarded tenants, closed plants, retired gateways


def test_the_reset_app_says_what_the_database_holds_now(settings, new_db, tmp_path):
    # no database yet: a name not created, or an embedded server never made (and not made by asking)
    missing = Settings(database_url=new_db(create=False).render(masked=False), home=tmp_path / "h")
    assert reset_app.current_database(missing).state == reset_app.NONE
    fresh = reset_app.current_database(Settings(home=tmp_path / "fresh"))
    assert fresh.state == reset_app.NONE and not fresh.needs_confirmation
    assert "No database yet" in reset_app.describe(fresh) and not (tmp_path / "fresh" / "pgdata").exists()
    # a database without the fleet tables, and the migrated one with empty tables: no fleet
    bare = reset_app.current_database(Settings(database_url=new_db().render(masked=False), home=tmp_path / "h"))
    assert bare.state == reset_app.NO_FLEET and "no fleet tables" in reset_app.describe(bare)
    empty = reset_app.current_database(settings)
    assert empty.state == reset_app.NO_FLEET and "empty fleet tables" in reset_app.describe(empty)
    assert not empty.needs_confirmation
    # a fleet: its scenario from the marker, its rows counted by PostgreSQL, as the preview counted them
    reset_with(settings, shlex.split(DEFAULT))
    now = reset_app.current_database(settings)
    assert now.state == reset_app.FLEET and now.needs_confirmation
    assert now.scenario == "multi-tenant (seed 7)"
    assert tuple(n for n, _ in now.counts.values()) == counts(settings.database_url)
    fleet = options.fleet_for(notebook.parser().parse_args(shlex.split(DEFAULT)))
    assert reset_app.counts_frame(now.counts).equals(reset_app.preview_counts(fleet))
    gateways = now.counts["gateways"][0]
    assert f"**multi-tenant (seed 7), {gateways:,} gateways**" in reset_app.describe(now)


def test_the_reset_app_says_when_the_server_did_not_answer_and_shows_no_password(tmp_path):
    unreachable = Settings(database_url="postgresql://someone:s3cret-pw@127.0.0.1:1/fleetlab", home=tmp_path)
    now = reset_app.current_database(unreachable)
    assert now.state == reset_app.UNKNOWN and now.needs_confirmation  # what cannot be checked is confirmed too
    assert now.problem.startswith("the server did not answer: cannot connect to PostgreSQL at 127.0.0.1:1/")
    shown = reset_app.describe(now) + reset_app.question(now) + reset_app.refusal(now, False)
    assert "s3cret-pw" not in shown and "did not answer" in shown


def test_a_database_holding_a_fleet_is_replaced_only_once_confirmed(settings):
    empty = reset_app.current_database(settings)
    assert reset_app.refusal(empty, confirmed=False) is None  # nothing to lose: no question
    reset_with(settings, shlex.split(DEFAULT))
    before = fingerprint(settings.database_url)
    now = reset_app.current_database(settings)
    question = reset_app.question(now)
    assert (
        question
        == f"Replace the workbench database holding multi-tenant (seed 7), {now.counts['gateways'][0]:,} gateways?"
    )
    refused = reset_app.refusal(now, confirmed=False)
    assert refused is not None and "Nothing was changed" in refused and question in refused
    assert reset_app.refusal(now, confirmed=True) is None
    # the app's run cell stops on that refusal before the reset: the database is as it was
    # (the browser test presses the button itself: tests/test_browser.py)
    assert fingerprint(settings.database_url) == before


# -- snapshots ------------------------------------------------------------------------------
# The snapshots themselves run in this suite as tests of their own (testpaths: tests/notebooks);
# these tests check the snapshot machinery: hermetic, order-free, and failing readably.


def test_every_snapshot_records_its_world_and_matches_its_marimo_source():
    # the documented check, as CI or a pre-commit hook runs it
    assert {p.stem for p in snapshots.snapshots()} >= {"reset", "explore", "compare"}
    proc = subprocess.run(
        [sys.executable, "scripts/snapshot_notebooks.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0 and "snapshots are up to date" in proc.stdout, (
        f"{proc.stderr}; run `uv run python scripts/snapshot_notebooks.py`"
    )


def test_an_edited_notebook_makes_its_snapshot_stale(tmp_path):
    import nbformat

    text = (NOTEBOOKS / "reset.py").read_text()
    assert 'label="Scenario"' in text
    edited = tmp_path / "reset.py"
    edited.write_text(text.replace('label="Scenario"', 'label="Scenario name"'))
    nb = snapshots.Recipe(str(edited), DEFAULT).record(_read(snapshots.SNAPSHOTS / "reset.ipynb"))
    nbformat.write(nb, tmp_path / "reset.ipynb")
    problems = snapshots.differences(tmp_path / "reset.ipynb")
    assert len(problems) == 1 and "differs" in problems[0], problems


def test_a_snapshot_without_a_world_is_refused_with_the_command_to_run(tmp_path):
    import nbformat

    nb = nbformat.read(snapshots.SNAPSHOTS / "explore.ipynb", as_version=4)
    del nb.metadata["fleetlab"]
    nbformat.write(nb, tmp_path / "explore.ipynb")
    assert "snapshot_notebooks.py notebooks/<name>.py" in snapshots.differences(tmp_path / "explore.ipynb")[0]
    proc = nbval([tmp_path / "explore.ipynb"], os.environ.copy())
    assert proc.returncode == 1
    failures = _failures_by_notebook(proc.stdout)["explore.ipynb"]
    # every cell fails with the reason, and no kernel ever ran it (it would have found some other database)
    assert len(failures) == len(snapshots.cell_sources(nb)), proc.stdout[-3000:]
    assert all("records no world" in f and "Traceback" not in f for f in failures), failures[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("--scenario multi-tenant --seed 7", "add --as-of"),
        ("--orgs -2 --as-of 2026-01-01T00:00:00Z", "--orgs"),
        ("--no-such-flag", "unrecognized arguments"),
    ],
)
def test_the_snapshot_command_refuses_a_world_that_is_not_fixed_or_not_valid(args, message):
    proc = subprocess.run(
        [sys.executable, "scripts/snapshot_notebooks.py", "notebooks/explore.py", f"--args={args}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_snapshots_hold_no_secret():
    for path in snapshots.SNAPSHOTS.glob("*.ipynb"):
        text = path.read_text()
        assert "password_encrypted" not in text, path
        assert "FLEETLAB_SECRET_KEY=" not in text and "postgresql://" not in text, path
        assert TEST_KEY not in text, path


def nbval(paths: list[Path], env: dict[str, str], cwd: Path = ROOT, plain: bool = False) -> subprocess.CompletedProcess:
    """`pytest --nbval PATHS` as a user runs it (copies outside the project get the plugin with -p);
    the result's `pid` names the databases that run made."""
    extra = []
    if not plain:  # outside the project: no conftest, no pythonpath setting
        extra = ["-p", "snapshot_plugin", "--rootdir", str(Path(paths[0]).parent)]
        env = {**env, "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), env.get("PYTHONPATH", "")])}
    # one process (`-n 0`): this run is itself one test among the suite's workers
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval",
        "-p",
        "no:cacheprovider",
        "-q",
        "-n",
        "0",
        *extra,
        *map(str, paths),
    ]
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as p:
        out, err = p.communicate(timeout=600)
    done = subprocess.CompletedProcess(cmd, p.returncode, out, err)
    done.pid = p.pid
    return done


def fingerprint(url: str) -> tuple:
    """What a workbench database holds: row counts, a digest of every id, and its marker's record."""
    with psycopg.connect(url) as conn:
        digest = conn.execute(
            "SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM "
            "(SELECT id FROM organizations UNION ALL SELECT id FROM factories UNION ALL SELECT id FROM gateways) t"
        ).fetchone()[0]
        marker = conn.execute("SELECT * FROM fleetlab_meta.fleetlab_marker").fetchall()
    return counts(url), digest, marker


def snapshot_databases(admin, pid: int) -> list[str]:
    """The databases a snapshot run with process id `pid` left behind (other runs may share the server)."""
    names = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'fleetlab_snapshot_%'").fetchall()
    return [name for (name,) in names if name.endswith(f"_{pid}")]


def servers_in_tree() -> list[Path]:
    return [p for p in (ROOT / "notebooks").rglob(".fleetlab")]


def test_plain_nbval_run_passes_from_a_workbench_holding_another_scenario_and_leaves_it_untouched(
    cli_env, settings, admin
):
    reset_with(settings, ["--scenario", "stale-fleet", "--seed", "3"])  # the workbench: not the snapshots' world
    before = fingerprint(settings.database_url)
    # a user's shell: DATABASE_URL is the workbench, ENCRYPTION_KEY the platform's
    env = {**cli_env, "ENCRYPTION_KEY": TEST_KEY, "FLEETLAB_NOTEBOOK_ARGS": "--orgs 1"}
    proc = nbval([snapshots.SNAPSHOTS], env, plain=True)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert f"{sum(len(snapshots.cell_sources(_read(p))) for p in snapshots.snapshots())} passed" in proc.stdout
    assert fingerprint(settings.database_url) == before
    assert snapshot_databases(admin, proc.pid) == [] and servers_in_tree() == []


def test_one_snapshot_alone_from_another_folder(cli_env, admin):
    proc = nbval([Path("notebooks/explore.ipynb")], cli_env, cwd=ROOT / "tests", plain=True)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert snapshot_databases(admin, proc.pid) == [] and servers_in_tree() == []


def _read(path: Path):
    import nbformat

    return nbformat.read(path, as_version=4)


def test_an_edited_stored_output_or_a_changed_world_fails_with_a_readable_diff_of_the_values(tmp_path, cli_env):
    import nbformat

    # 1. one stored value edited by hand
    nb = _read(snapshots.SNAPSHOTS / "explore.ipynb")
    cell = next(c for c in nb.cells if c.source.startswith("summary, factory_rows = explore.reuse("))
    html = cell.outputs[0]["data"]["text/html"]
    # the organizations table (a selectable marimo table): a row reads as one JSON object, names and no ids
    row = next(line for line in snapshot_diff.lines(html) if '"factories": 2,' in line and '"organization": "' in line)
    assert "organization_id" not in row
    name = json.loads(row)["organization"]
    q = "&#92;&quot;"  # a quote inside the table's data attribute
    stored = f"{q}organization{q}:{q}{name}{q},{q}factories{q}:2,"
    edited = html.replace(stored, stored.replace(":2,", ":20,"), 1)
    assert edited != html
    cell.outputs[0]["data"]["text/html"] = edited
    nbformat.write(nb, tmp_path / "edited.ipynb")
    # 2. the same notebook, its world generated with another seed: the data changes, not the markup
    nb = _read(snapshots.SNAPSHOTS / "explore.ipynb")
    recipe = snapshots.Recipe.of(nb)
    snapshots.Recipe(recipe.source, recipe.args.replace("--seed 7", "--seed 8")).record(nb)
    nbformat.write(nb, tmp_path / "reseeded.ipynb")

    proc = nbval([tmp_path / "edited.ipynb", tmp_path / "reseeded.ipynb"], cli_env)
    assert proc.returncode == 1
    failures = _failures_by_notebook(proc.stdout)
    edited_out, reseeded_out = "".join(failures["edited.ipynb"]), "".join(failures["reseeded.ipynb"])
    assert len(failures["edited.ipynb"]) == 1, edited_out[-3000:]
    assert "what changed in this output (- stored, + now):" in edited_out, edited_out[-3000:]
    assert "-" + row.replace('"factories": 2,', '"factories": 20,') in edited_out and f"+{row}" in edited_out
    assert "<td>" not in proc.stdout and "object-id" not in proc.stdout
    assert len(failures["reseeded.ipynb"]) >= 5, reseeded_out[-3000:]  # tables and charts, not one stray cell
    assert all("Cell outputs differ" in f for f in failures["reseeded.ipynb"])


def _failures_by_notebook(stdout: str) -> dict[str, list[str]]:
    """pytest's failure sections, grouped by notebook file."""
    out: dict[str, list[str]] = {}
    parts = re.split(r"^_{3,} (?:ERROR at \w+ of )?(\S+?)::Cell \d+ _{3,}$", stdout, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        out.setdefault(name, []).append(body.split("short test summary info")[0])
    return out


TEAM_NOTEBOOK = """import marimo

app = marimo.App()


@app.cell
def _():
    import fleetlab

    return (fleetlab,)


@app.cell
def _(fleetlab):
    fleetlab.read_sql("SELECT count(*) AS gateways FROM gateways")
    return


if __name__ == "__main__":
    app.run()
"""


def test_a_teams_own_notebook_is_snapshotted_with_one_command_and_picked_up(cli_env):
    name = f"fltest_mine_{os.getpid()}"  # git-ignored, removed below
    source, snapshot = NOTEBOOKS / f"{name}.py", snapshots.SNAPSHOTS / f"{name}.ipynb"
    args = "--scenario stale-fleet --seed 3 --as-of 2026-01-01T00:00:00Z"
    try:
        source.write_text(TEAM_NOTEBOOK)
        made = subprocess.run(
            [sys.executable, "scripts/snapshot_notebooks.py", str(source.relative_to(ROOT)), "--args", args],
            cwd=ROOT,
            env=cli_env,
            capture_output=True,
            text=True,
        )
        assert made.returncode == 0, made.stderr
        assert f"wrote tests/notebooks/{name}.ipynb" in made.stdout
        nb = _read(snapshot)
        assert snapshots.Recipe.of(nb) == snapshots.Recipe(f"notebooks/{name}.py", args)
        expected = options.fleet_for(notebook.parser().parse_args(shlex.split(args))).counts()["gateways"]
        assert f"<td>{expected}</td>" in nb.cells[-1].outputs[0]["data"]["text/html"]
        # picked up as it is: plain pytest on the file, no --nbval, no flags
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", str(snapshot)],
            cwd=ROOT,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0 and "2 passed" in proc.stdout, proc.stdout[-3000:]
    finally:
        source.unlink(missing_ok=True)
        snapshot.unlink(missing_ok=True)
