"""How a command or a notebook run as a script ends on an error: one message, one exit code.

Errors raised on purpose (FleetlabError) become their message and the error's exit code, never a
traceback; the server refusing or failing is reported in its own words; anything else is a bug,
reported in one line (FLEETLAB_DEBUG=1 shows the traceback). Secrets are scrubbed from all of it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..config import debugging, secrets
from ..errors import FleetlabError, scrub

INTERRUPTED = 130
BROKEN_PIPE = 141
BUG = 70


def clean(text: str) -> str:
    """`text` without any secret fleetlab is configured with."""
    return scrub(text, *secrets())


def report(exc: BaseException, prog: str) -> tuple[str, int]:
    """The message to print on stderr ("" for none) and the exit code for `exc`."""
    if isinstance(exc, FleetlabError):
        return f"{prog}: error: {clean(str(exc))}", exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return f"{prog}: interrupted; nothing half-done was kept.", INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        return "", BROKEN_PIPE
    if type(exc).__module__.startswith("psycopg"):
        # the server refused or failed (a timeout, a dropped connection): not a bug, say what it said
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{prog}: error: PostgreSQL: {clean(detail)}", 1
    return (
        f"{prog}: unexpected error: {type(exc).__name__}: {clean(str(exc))}\n"
        "This is a bug in fleetlab; rerun with FLEETLAB_DEBUG=1 for details.",
        BUG,
    )


def run(command: Callable[[], int | None], prog: str) -> int:
    """Run `command`; on an error print `report`'s message and return its exit code."""
    try:
        return command() or 0
    except BaseException as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if isinstance(exc, SystemExit):
            raise
        if debugging() and not isinstance(exc, FleetlabError | KeyboardInterrupt | BrokenPipeError):
            raise
        message, code = report(exc, prog)
        if message:
            print(message, file=sys.stderr)
        return code
