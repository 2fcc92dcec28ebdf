"""Progress bars for long loads: rich on a terminal, silence otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..store.load import Progress

MIN_ROWS = 20_000  # below this a load is over before a bar is worth drawing


@contextmanager
def terminal_progress(total_rows: int, *, stream=None) -> Iterator[Progress | None]:
    """A Progress callback drawing a rich bar on a terminal; None when not a terminal or a small load."""
    stream = stream or sys.stderr
    if total_rows < MIN_ROWS or not stream.isatty():
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

    def update(table: str, done: int, total: int) -> None:
        if table not in tasks:
            tasks[table] = bars.add_task(table, total=total)
        bars.update(tasks[table], completed=done)

    with bars:
        yield update
