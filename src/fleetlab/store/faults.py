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
        # a resume that arrives after this pause was cut short (a Ctrl-C while waiting) must not
        # kill the process, through another thread or during interpreter shutdown (which resets
        # Python-level handlers to the default): ignore it. Blocked, it still wakes sigtimedwait.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        print(f"fleetlab-fault: paused at {point} pid={os.getpid()}", file=sys.stderr, flush=True)
        signal.sigtimedwait({signal.SIGUSR1}, 60)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
