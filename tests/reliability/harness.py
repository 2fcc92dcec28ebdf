"""Shared tools of the reliability suite: run the CLI, fingerprint a database, count the figures.

Every scenario records what it tried and what went wrong with `observe(metric, n)` *before*
asserting, so `scripts/reliability_report.py` (which runs this suite with
FLEETLAB_RELIABILITY_LOG set) reports real counts even when a test fails.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass

import psycopg

from fleetlab.dsn import DatabaseURL
from fleetlab.model.tables import BOOKKEEPING_SCHEMA
from fleetlab.store import db

METRICS = (
    "bad_inputs_tried",
    "tracebacks",
    "secrets_leaked",
    "kill_points_tried",
    "half_built_databases",
    "double_applied_migrations",
    "rows_lost_or_partial",
)
FLEET_TABLES = ("organizations", "factories", "gateways")
DEFAULT_COUNTS = {"organizations": 1, "factories": 3, "gateways": 6}


def observe(metric: str, n: int = 1) -> None:
    """Add `n` to a figure of the report (a no-op outside the report run)."""
    assert metric in METRICS, metric
    path = os.environ.get("FLEETLAB_RELIABILITY_LOG")
    if path and n:
        with open(path, "a") as fh:
            fh.write(json.dumps({"metric": metric, "n": n}) + "\n")


# -- running the CLI --------------------------------------------------------------------------


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.output


def cli(args: list[str], env: dict[str, str], *, timeout: float = 60, stdin: str | None = None) -> Run:
    """Run `fleetlab ARGS` in a fresh Python process (the real console entry point)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "fleetlab.app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin if stdin is not None else "",
    )
    return Run(list(args), proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - started)


def cli_inprocess(args: list[str], env: dict[str, str]) -> Run:
    """Run `fleetlab.app.cli.main(ARGS)` here with `env` as the whole environment.

    The same code as the console script minus interpreter start-up, for the large corpora.
    An exception escaping main() is written out as the traceback a user would have seen.
    """
    from fleetlab.app.cli import main

    # text streams over bytes, as sys.stdout is (some commands write binary to .buffer)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="replace", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="replace", write_through=True)
    saved = dict(os.environ)
    started = time.perf_counter()
    os.environ.clear()
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(args)
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # noqa: BLE001 - an escaping exception is what we look for
                traceback.print_exc(file=err)
                code = 99
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out.flush()
    err.flush()
    text = [s.buffer.getvalue().decode("utf-8", "replace") for s in (out, err)]
    return Run(list(args), code, text[0], text[1], time.perf_counter() - started)


def base_env(**extra: str) -> dict[str, str]:
    """The current environment without any fleetlab or libpq setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETLAB_", "DATABASE_URL", "PG"))}
    env.update(extra)
    return env


class Background:
    """A CLI process in the background whose stderr is read line by line (to see fault pauses)."""

    def __init__(self, args: list[str], env: dict[str, str]):
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fleetlab.app.cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        self.stdout = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """The first stderr line containing `text`; fails if the process ends first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            if text in line:
                return line
        raise AssertionError(f"{self.args}: never printed {text!r}; stderr:\n{''.join(self.stderr)}")

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGUSR1)

    def kill(self) -> None:
        self.proc.kill()

    def finish(self, timeout: float = 60) -> Run:
        started = time.perf_counter()
        self.proc.wait(timeout=timeout)
        self.stdout = self.proc.stdout.read() if self.proc.stdout else ""
        self._reader.join(timeout=5)  # stderr belongs to the reader thread
        return Run(self.args, self.proc.returncode, self.stdout, "".join(self.stderr), time.perf_counter() - started)


def paused_pid(line: str) -> int:
    return int(re.search(r"pid=(\d+)", line).group(1))


# -- looking at databases ---------------------------------------------------------------------


def databases(admin_url: DatabaseURL) -> set[str]:
    with db.connect(admin_url, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database")}


def content_hash(url: DatabaseURL) -> dict[str, str]:
    """A fingerprint of everything fleetlab owns in the database: the tables of `public` and of its own
    schema (`fleetlab_meta`: the history and the marker), and their rows.

    {"database": "absent"} when it does not exist.
    """
    try:
        conn = db.connect(url, autocommit=True)
    except Exception as exc:  # noqa: BLE001
        if "does not exist" in str(exc):
            return {"database": "absent"}
        raise
    with conn:
        tables = conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('public', %s) AND c.relkind IN ('r', 'p') ORDER BY n.nspname <> 'public', 1, 2",
            (BOOKKEEPING_SCHEMA,),
        ).fetchall()
        names = [t if schema == "public" else f"{schema}.{t}" for schema, t in tables]
        out = {"tables": ",".join(names)}
        for name, (schema, t) in zip(names, tables, strict=True):
            q = psycopg.sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t"
            )
            n, h = conn.execute(q.format(psycopg.sql.Identifier(schema, t))).fetchone()
            out[name] = f"{n}:{h}"
        return out


def fleet_state(url: DatabaseURL) -> str:
    """'absent', 'complete' (marker, every migration, the recorded counts, no orphans) or 'partial: …'."""
    from fleetlab.store import marker, migrate

    try:
        conn = db.connect(url, autocommit=True)
    except Exception as exc:  # noqa: BLE001
        if "does not exist" in str(exc):
            return "absent"
        raise
    with conn:
        m = marker.read(conn)
        if m is None:
            return "partial: no marker"
        st = migrate.status(conn)
        if st.pending or st.drift:
            return f"partial: migrations pending {[p.filename for p in st.pending]} drift {st.drift}"
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in FLEET_TABLES}
        recorded = (m.scenario or {}).get("counts")
        if recorded != counts or not all(counts.values()):
            return f"partial: rows {counts}, marker recorded {recorded}"
        orphans = conn.execute(
            "SELECT (SELECT count(*) FROM factories f WHERE NOT EXISTS "
            "(SELECT 1 FROM organizations o WHERE o.id = f.organization_id)) + "
            "(SELECT count(*) FROM gateways g WHERE NOT EXISTS (SELECT 1 FROM factories f WHERE f.id = g.factory_id))"
        ).fetchone()[0]
        if orphans:
            return f"partial: {orphans} orphan rows"
        return "complete"


def leaked(text: str, secrets: list[str]) -> list[str]:
    """The secrets (of at least 4 characters) that appear in `text`."""
    return [s for s in secrets if len(s) >= 4 and s in text]


def judge(run: Run, secrets: list[str] = ()) -> list[str]:
    """Record a bad input's outcome in the figures; return its problems (empty when all is well)."""
    problems = []
    observe("bad_inputs_tried")
    if run.traceback or run.returncode in (70, 99):
        observe("tracebacks")
        problems.append(f"traceback or unexpected error (exit {run.returncode})")
    found = leaked(run.output, list(secrets))
    if found:
        observe("secrets_leaked", len(found))
        problems.append(f"leaked {len(found)} secret(s)")
    if run.returncode == 0:
        problems.append("exit status 0")
    if not run.stderr.strip():
        problems.append("no message on stderr")
    return problems
