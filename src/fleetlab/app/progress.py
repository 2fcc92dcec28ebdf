"""Progress bars for long loads: rich on a terminal, silence otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store.load import Progress

MIN_ROWS = 20_000  # below this a load is over before a bar is worth drawing


@contextmanager
def terminal_progress(total_rows: int | None = None, *, stream=None) -> Iterator[Progress | None]:
    """A Progress callback drawing a rich bar on a terminal; None when not a terminal or a small load.

    total_rows None: the size is learnt from the first update (a rotation counts its rows under its
    lock), and the bar appears then, if the work is big enough for one.
    """
    stream = stream or sys.stderr
    if not stream.isatty() or (total_rows is not None and total_rows < MIN_ROWS):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    bars = RichProgress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream),
        transient=False,
    )
    tasks: dict[str, int] = {}
    shown = total_rows is not None

    def update(table: str, done: int, total: int) -> None:
        nonlocal shown
        if not shown:
            if total < MIN_ROWS:
                return
            bars.start()
            shown = True
        if table not in tasks:
            tasks[table] = bars.add_task(table, total=total)
        bars.update(tasks[table], completed=done)

    if shown:
        bars.start()
    try:
        yield update
    finally:
        if shown:
            bars.stop()
