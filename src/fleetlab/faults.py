"""Test-only fault injection: stop this process dead, or pause it, at a named point.

The reliability suite (tests/reliability) needs to kill a reset at exact moments (after the
side database is created, during the gateways COPY, between drop and rename, ...). The library
calls `reached("<point>")` there; it does nothing unless one of these is set:

- FLEETLAB_FAULT=<point>        SIGKILL this process when it reaches <point>;
- FLEETLAB_FAULT_PAUSE=<point>  print `fleetlab-fault: paused at <point> pid=<pid>` to stderr and
                                wait (at most 60 s) for SIGUSR1, so a test can act at that moment
                                (pg_terminate_backend, `pg_ctl stop -m immediate`, a second reset).

They are read once, at import, on purpose outside config.Settings: they are not settings, and
the hook must stay a single comparison on the hot path. Points used: reset:before-create,
reset:after-create, reset:before-swap, swap:after-end-sessions, swap:after-rename-old,
swap:before-commit, swap:after-commit, migrate:before-record, copy:<table>,
cache:before-record; and stream:<table>, which is copy:<table> in a parallel load's helper
processes (`fleetlab.store.parallel`), the reset's own process passing it by. `fleetlab export`:
export:<table> (a chunk of that file written in the private folder), export:before-swap (every file
written, none in place) and export:mid-swap (the first new file in place, the previous one aside).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

_KILL = os.environ.get("FLEETLAB_FAULT") or None
_PAUSE = os.environ.get("FLEETLAB_FAULT_PAUSE") or None
ACTIVE = _KILL is not None or _PAUSE is not None


def reached(point: str) -> None:
    """Kill or pause here if the environment asks for `point`; otherwise return at once."""
    if not ACTIVE:
        return
    if point == _KILL:
        os.kill(os.getpid(), signal.SIGKILL)
    if point == _PAUSE:
        print_pause = f"fleetlab-fault: paused at {point} pid={os.getpid()}"
        if threading.current_thread() is threading.main_thread():
            _pause_main(print_pause)
            return
        # a helper thread cannot set handlers: block the signal here and wait for it
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        print(print_pause, file=sys.stderr, flush=True)
        signal.sigtimedwait({signal.SIGUSR1}, 60)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})


def _pause_main(line: str) -> None:
    """Wait (60 s at most) for SIGUSR1 through a Python handler: whichever thread the kernel hands the
    signal to, the handler runs here. (Blocking it in this thread alone and ignoring it lost the resume
    whenever another thread, polars' or a progress bar's, took the signal first: a 60 s hang.)"""
    resumed = threading.Event()
    signal.signal(signal.SIGUSR1, lambda signum, frame: resumed.set())
    try:
        print(line, file=sys.stderr, flush=True)
        deadline = time.monotonic() + 60
        while not resumed.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        # a resume that arrives after a pause cut short (Ctrl-C) must not kill the process, even during
        # interpreter shutdown (which resets Python-level handlers): ignored from now on
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
