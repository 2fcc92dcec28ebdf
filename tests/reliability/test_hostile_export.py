"""`fleetlab export` in a hostile folder: planted symlinks, faults and kills mid-swap, bad DIR values;
and the load.sql it writes, run by psql from another folder, loads a database `fleetlab check` passes.

Every export here is small (the default fleet, or two or three organizations of multi-tenant).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fleetlab.store import db

from ..conftest import TEST_KEY
from .harness import Background, Run, base_env, cli, cli_inprocess, judge, observe

AS_OF = "2026-01-01T00:00:00Z"
SMALL = ["--scenario", "multi-tenant", "--orgs", "2", "--seed", "5", "--as-of", AS_OF]
DSN_PASSWORD = "Dsn-Pass-5f3e9a"  # export never connects: the URL is here to prove it is never written
CSV = {"organizations.csv", "factories.csv", "gateways.csv", "load.sql", "fleet.json"}
PARQUET = {"organizations.parquet", "factories.parquet", "gateways.parquet", "fleet.json"}
PSQL = shutil.which("psql")


@pytest.fixture
def export_env(tmp_path) -> dict[str, str]:
    """The CLI's environment for export: the test key, a home of the test's own, a URL with a password."""
    return base_env(
        FLEETLAB_HOME=str(tmp_path / "home"),
        FLEETLAB_SECRET_KEY=TEST_KEY,
        DATABASE_URL=f"postgresql://fleet:{DSN_PASSWORD}@127.0.0.1:1/nowhere",
    )


def files(folder: Path) -> dict[str, bytes]:
    """Every name in `folder` and its bytes (a symlink as `-> target`, a folder as `<dir>`)."""
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_symlink():
            out[p.name] = b"-> " + os.readlink(p).encode()
        elif p.is_dir():
            out[p.name] = b"<dir>"
        else:
            out[p.name] = p.read_bytes()
    return out


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".fleetlab-export-")]


def exported(folder: Path, env: dict[str, str], *flags: str) -> dict[str, bytes]:
    """An earlier export (in this process: the console script's code without its start-up)."""
    run = cli_inprocess(["export", str(folder), *SMALL, *flags], env)
    assert run.returncode == 0, run.output
    return files(folder)


# -- never writing where it was not asked to ---------------------------------------------------------


def test_symlinks_planted_at_temporary_and_final_names_are_never_written_through(tmp_path, export_env):
    out, victim = tmp_path / "out", tmp_path / "victim"
    out.mkdir()
    victim.mkdir()
    planted = {}
    # the names an export used for its temporary files, and the final names
    for name in (
        ".organizations.csv.part",
        ".factories.csv.part",
        ".gateways.csv.part",
        ".fleet.json.part",
        "organizations.csv",
        "gateways.csv",
        "load.sql",
        "fleet.json",
        "gateways.parquet",
    ):
        target = victim / f"target-of-{name}"
        target.write_bytes(b"someone else's file\n")
        (out / name).symlink_to(target)
        planted[name] = target
    (out / "factories.csv").symlink_to(victim / "dangling")  # a link to nothing must not be created through

    run = cli(["export", str(out), *SMALL, "--overwrite"], export_env)
    assert run.returncode == 0, run.output
    assert all(t.read_bytes() == b"someone else's file\n" for t in planted.values()), "wrote through a symlink"
    assert sorted(p.name for p in victim.iterdir()) == sorted(t.name for t in planted.values())  # none created
    for name in CSV:  # the final names are the export's own regular files now
        assert (out / name).is_file() and not (out / name).is_symlink(), name
    assert not (out / "gateways.parquet").exists() and not (out / "gateways.parquet").is_symlink()
    assert not leftovers(out)


# -- --overwrite: all or nothing ---------------------------------------------------------------------


def test_switching_format_with_overwrite_leaves_no_stale_files(tmp_path, export_env):
    out = tmp_path / "out"
    assert set(exported(out, export_env)) == CSV
    assert set(exported(out, export_env, "--format", "parquet", "--overwrite")) == PARQUET
    record = json.loads((out / "fleet.json").read_text())
    assert record["format"] == "parquet" and record["load"] is None and record["copy"] == []
    assert "csv" in record["note"]
    assert set(exported(out, export_env, "--overwrite")) == CSV


def test_an_earlier_export_is_refused_without_overwrite_and_left_untouched(tmp_path, export_env):
    for name in ("fleet.json", "load.sql", "organizations.csv", "gateways.parquet"):
        out = tmp_path / name
        out.mkdir()
        (out / name).write_bytes(b"an earlier export's file\n")
        before = files(out)
        run = cli_inprocess(["export", str(out), *SMALL], export_env)  # the console script's code, here
        assert run.returncode == 2 and "--overwrite" in run.stderr and not run.traceback, (name, run.output)
        assert files(out) == before, name


@pytest.mark.parametrize(
    "point, fmt",
    [
        ("export:gateways", "csv"),
        ("export:before-swap", "parquet"),
        ("export:mid-swap", "csv"),
        ("export:mid-swap", "parquet"),
    ],
)
def test_an_overwrite_interrupted_midway_leaves_the_previous_export_whole(tmp_path, export_env, point, fmt):
    out = tmp_path / "out"
    before = exported(out, export_env)
    bg = Background(
        ["export", str(out), *SMALL, "--seed", "6", "--format", fmt, "--overwrite"],
        {**export_env, "FLEETLAB_FAULT_PAUSE": point},
    )
    bg.wait_for(f"paused at {point}")
    bg.proc.send_signal(signal.SIGINT)  # a KeyboardInterrupt raised right there: writing, or between renames
    run = bg.finish()
    observe("kill_points_tried")
    if files(out) != before:
        observe("rows_lost_or_partial")
    assert run.returncode == 130 and not run.traceback, run.output
    assert files(out) == before  # every previous file byte for byte, nothing else: no temporary folder


@pytest.mark.parametrize("point", ["export:organizations", "export:gateways", "export:before-swap", "export:mid-swap"])
def test_a_kill_at_any_point_leaves_the_previous_export_whole(tmp_path, export_env, point):
    out = tmp_path / "out"
    before = exported(out, export_env)
    run = cli(
        ["export", str(out), *SMALL, "--seed", "6", "--format", "parquet", "--overwrite"],
        {**export_env, "FLEETLAB_FAULT": point},
    )
    observe("kill_points_tried")
    assert run.returncode == -signal.SIGKILL, run.output
    left = leftovers(out)
    assert len(left) == 1  # the private folder a killed export cannot remove
    if point != "export:mid-swap":
        assert files(out) == {**before, left[0]: b"<dir>"}
    # killed during the swap itself, the previous files wait in that folder: the next export into DIR
    # puts them back first, then refuses (no --overwrite), leaving the previous export whole
    again = cli_inprocess(["export", str(out), *SMALL], export_env)
    if files(out) != before:
        observe("rows_lost_or_partial")
    assert again.returncode == 2 and "--overwrite" in again.stderr, again.output
    assert files(out) == before
    assert set(exported(out, export_env, "--overwrite")) == CSV


def test_a_second_export_into_the_same_folder_is_refused_while_the_first_runs(tmp_path, export_env):
    out = tmp_path / "out"
    first = Background(["export", str(out), *SMALL], {**export_env, "FLEETLAB_FAULT_PAUSE": "export:before-swap"})
    first.wait_for("paused at export:before-swap")
    second = cli(["export", str(out), *SMALL, "--overwrite"], export_env)
    first.resume()
    done = first.finish()
    assert second.returncode == 2 and "another fleetlab export is writing into" in second.stderr, second.output
    assert done.returncode == 0, done.output
    assert set(files(out)) == CSV


def test_a_write_that_fails_says_so_and_keeps_the_previous_export(tmp_path, export_env):
    out = tmp_path / "out"
    before = exported(out, export_env)

    def small_files():  # the gateways file outgrows this; the others fit
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    proc = subprocess.run(
        [sys.executable, "-m", "fleetlab.app.cli", "export", str(out), *SMALL, "--seed", "6", "--overwrite"],
        env=export_env,
        capture_output=True,
        text=True,
        preexec_fn=small_files,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "File too large" in proc.stderr and "left as it was" in proc.stderr
    assert files(out) == before


# -- bad DIR values ----------------------------------------------------------------------------------


def test_bad_dir_values_exit_2_with_one_line_saying_what_to_do(tmp_path, export_env, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    cwd = tmp_path / "cwd"  # where a DIR taken for "." would land
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    cases = [
        [str(afile)],
        [str(afile / "x")],
        ["/dev/null/x"],
        ["/proc/x"],
        ["/proc"],  # a folder nobody can write in, root included
        [""],
        ["  "],
        [str(tmp_path / "shard"), "--shard", ""],
        [str(tmp_path / "line\nbreak")],
    ]
    problems = []
    for number, args in enumerate(cases):
        # the first through the console script (nothing more is printed at exit), the others in-process
        run = (cli if number == 0 else cli_inprocess)(["export", *args, *SMALL], export_env)
        lines = run.stderr.strip().splitlines()
        found = judge(run, [DSN_PASSWORD, TEST_KEY])
        if run.returncode != 2 or len(lines) != 1 or not lines[0].startswith("fleetlab: error: "):
            found.append(f"exit {run.returncode}, stderr {run.stderr!r}")
        if found:
            problems.append(f"{args!r}: {'; '.join(found)}")
    assert not problems, "\n".join(problems)
    assert list(cwd.iterdir()) == [] and not (tmp_path / "shard").exists() and not (tmp_path / "line\nbreak").exists()
    assert afile.read_text() == "not a folder\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_a_folder_without_write_permission_exits_2(tmp_path, export_env):
    out = tmp_path / "locked"
    out.mkdir(mode=0o555)
    run = cli(["export", str(out), *SMALL], export_env)
    assert run.returncode == 2 and "cannot write into" in run.stderr and not run.traceback, run.output


# -- load.sql: the load instructions work as written -------------------------------------------------


def _load(record: dict, url, cwd: Path) -> subprocess.CompletedProcess:
    """fleet.json's load command, run by a shell exactly as written, from `cwd`."""
    env = {**base_env(), "DATABASE_URL": url.render(masked=False)}
    return subprocess.run(record["load"], shell=True, cwd=cwd, env=env, capture_output=True, text=True)


def _check(url, env) -> Run:
    return cli_inprocess(["check"], {**env, "DATABASE_URL": url.render(masked=False)})


@pytest.mark.skipif(PSQL is None, reason="no psql client on PATH")
@pytest.mark.parametrize("flags", [[], ["--shard", "1/3", *SMALL]], ids=["default fleet", "shard 1/3"])
def test_load_sql_loads_from_any_folder_and_the_database_passes_check(tmp_path, env, new_db, template_db, flags):
    out = tmp_path / "it's a fleet, with spaces"
    run = cli(["export", str(out), *flags], {**env, "DATABASE_URL": f"postgresql://u:{DSN_PASSWORD}@127.0.0.1:1/x"})
    assert run.returncode == 0, run.output
    record = json.loads((out / "fleet.json").read_text())
    assert record["load"] in run.stdout and record["copy"] == [
        line for line in (out / "load.sql").read_text().splitlines() if line.startswith("\\copy")
    ]
    for name in files(out):  # nothing secret in any file: the key, the URL's password
        text = (out / name).read_bytes()
        assert TEST_KEY.encode() not in text and DSN_PASSWORD.encode() not in text, name
    assert TEST_KEY not in run.output and DSN_PASSWORD not in run.output
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    url = new_db(template_db)  # the platform's schema and fleetlab's marker, no rows
    loaded = _load(record, url, elsewhere)
    assert loaded.returncode == 0, loaded.stderr
    with db.connect(url) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in record["counts"]}
    assert counts == record["counts"] and all(counts.values())
    check = _check(url, env)
    assert check.returncode == 0 and "all 9 checks passed" in check.stdout, check.output


@pytest.mark.skipif(PSQL is None, reason="no psql client on PATH")
def test_shards_loaded_one_after_another_add_up_in_the_marker(tmp_path, env, new_db, template_db):
    url = new_db(template_db)
    flags = ["--scenario", "multi-tenant", "--orgs", "3", "--seed", "5", "--as-of", AS_OF]
    total = {}
    for k in range(3):
        out = tmp_path / f"part {k}"
        assert cli_inprocess(["export", str(out), "--shard", f"{k}/3", *flags], env).returncode == 0
        record = json.loads((out / "fleet.json").read_text())
        loaded = _load(record, url, tmp_path)
        assert loaded.returncode == 0, loaded.stderr
        total = {t: total.get(t, 0) + n for t, n in record["counts"].items()}
    with db.connect(url) as conn:
        recorded = conn.execute("SELECT scenario FROM fleetlab_meta.fleetlab_marker").fetchone()[0]
    assert recorded["counts"] == total and recorded["name"] == "multi-tenant"
    check = _check(url, env)
    assert check.returncode == 0 and "added since" not in check.stdout, check.output


OLD_LAYOUT = """
ALTER TABLE fleetlab_meta.fleetlab_marker SET SCHEMA public;
ALTER TABLE fleetlab_meta.schema_migrations SET SCHEMA public;
DELETE FROM public.schema_migrations WHERE version >= 1707345600006;
DROP SCHEMA fleetlab_meta;
"""


@pytest.mark.skipif(PSQL is None, reason="no psql client on PATH")
def test_load_sql_records_in_the_marker_of_a_database_of_the_old_layout(tmp_path, env, new_db, template_db):
    """A database made before migration 1707345600006 has its marker in public: load.sql finds it there,
    and `fleetlab migrate` then moves it, the load's record with it."""
    url = new_db(template_db)
    with db.connect(url, autocommit=True) as conn:
        conn.execute(OLD_LAYOUT)
    out = tmp_path / "out"
    assert cli_inprocess(["export", str(out), *SMALL], env).returncode == 0
    record = json.loads((out / "fleet.json").read_text())
    loaded = _load(record, url, tmp_path)
    assert loaded.returncode == 0 and "no fleetlab marker" not in loaded.stdout, loaded.stderr
    with db.connect(url) as conn:
        assert conn.execute("SELECT scenario FROM public.fleetlab_marker").fetchone()[0]["counts"] == record["counts"]
    assert cli_inprocess(["migrate"], {**env, "DATABASE_URL": url.render(masked=False)}).returncode == 0
    check = _check(url, env)
    assert check.returncode == 0 and "all 9 checks passed" in check.stdout, check.output


@pytest.mark.skipif(PSQL is None, reason="no psql client on PATH")
def test_a_load_that_fails_loads_nothing(tmp_path, env, new_db, template_db):
    out = tmp_path / "out"
    assert cli(["export", str(out), *SMALL], env).returncode == 0
    with (out / "gateways.csv").open("a") as fh:
        fh.write("not,a,gateway\n")  # the last COPY fails
    url = new_db(template_db)
    loaded = _load(json.loads((out / "fleet.json").read_text()), url, tmp_path)
    assert loaded.returncode != 0 and "gateways" in loaded.stderr
    with db.connect(url) as conn:
        assert (
            conn.execute("SELECT (SELECT count(*) FROM organizations) + (SELECT count(*) FROM factories)").fetchone()[0]
            == 0
        )
        assert conn.execute("SELECT scenario FROM fleetlab_meta.fleetlab_marker").fetchone()[0] is None


@pytest.mark.skipif(PSQL is None, reason="no psql client on PATH")
def test_load_sql_into_the_platforms_own_empty_schema_loads_and_passes_check(tmp_path, env, new_db):
    out = tmp_path / "out"
    assert cli(["export", str(out), *SMALL], env).returncode == 0
    url = new_db()  # an empty database, the platform's schema by `fleetlab migrate`: no marker
    target = {**env, "DATABASE_URL": url.render(masked=False)}
    assert cli(["migrate"], target).returncode == 0
    loaded = _load(json.loads((out / "fleet.json").read_text()), url, tmp_path)
    assert loaded.returncode == 0 and "no fleetlab marker here" in loaded.stdout, loaded.stderr
    check = _check(url, env)  # nothing recorded to compare the counts with; everything else checked
    assert check.returncode == 0 and "all 9 checks passed" in check.stdout, check.output
    assert "no fleetlab marker, so no recorded counts" in check.stdout and " passwords decrypt" in check.stdout


def test_a_bad_dir_makes_no_key_file(tmp_path):
    home = tmp_path / "home"
    env = base_env(FLEETLAB_HOME=str(home))  # no key configured: a good export would make one
    run = cli_inprocess(["export", "/dev/null/x", *SMALL], env)
    assert run.returncode == 2 and not run.traceback, run.output
    assert not (home / "secret.key").exists()
