"""Where a notebook's time goes: every cell's run and the rendering of its output, timed one by one.

    uv run python scripts/profile_cells.py notebooks/explore.py [--top 12] [-- notebook args]

Runs the notebook as `marimo export html` would (the cells in the graph's order, in this process, on
the database the environment points at), and prints per cell: seconds to run, seconds to render its
output as HTML (tables serialised, charts turned into their spec and data), the output's size in KiB,
and the cell's first line. The slowest first; the total last.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--top", type=int, default=15, help="cells to list (default 15)")
    args, rest = parser.parse_known_args()
    sys.argv = [str(args.notebook), *[a for a in rest if a != "--"]]

    from marimo._ast.load import load_app
    from marimo._output.formatting import as_html
    from marimo._runtime.app.script_runner import AppScriptRunner

    timings: dict[str, list[float]] = {}
    real_handle = AppScriptRunner._handle_run_result

    def handle(self, cid, result, outputs):
        real_handle(self, cid, result, outputs)
        out = outputs.get(cid)
        if out is not None:
            started = time.perf_counter()
            timings[cid][2] = len(as_html(out).text) / 1024
            timings[cid][1] = time.perf_counter() - started

    AppScriptRunner._handle_run_result = handle

    from marimo._runtime.executor.evaluator import Evaluator  # the one place a cell runs

    real_eval = Evaluator.evaluate_sync

    def evaluate(self, cell, glbls):
        started = time.perf_counter()
        try:
            return real_eval(self, cell, glbls)
        finally:
            timings[cell.cell_id] = [time.perf_counter() - started, 0.0, 0.0]

    Evaluator.evaluate_sync = evaluate

    app = load_app(str(args.notebook))
    started = time.perf_counter()
    app.run()
    total = time.perf_counter() - started
    codes = {data.cell_id: data.code for data in app._cell_manager.cell_data()}
    rows = sorted(timings.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
    print(f"{'run s':>7} {'render s':>8} {'KiB':>8}  cell")
    for cid, (run, render, size) in rows[: args.top]:
        first = next((ln.strip() for ln in codes.get(cid, "").splitlines() if ln.strip()), "")
        print(f"{run:7.3f} {render:8.3f} {size:8.1f}  {first[:90]}")
    print(
        f"{sum(t[0] for t in timings.values()):7.3f} {sum(t[1] for t in timings.values()):8.3f} "
        f"{sum(t[2] for t in timings.values()):8.1f}  all {len(timings)} cells ({total:.2f} s in app.run)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
