"""Benchmark: what the explore notebook sends to a browser for a large fleet, against a tiny one.

    uv run python benchmarks/explore_payload.py --gateways 1000000

In one run, on the embedded server (data under --home, default /tmp/fleetlab-bench) or DATABASE_URL's:
the workbench is reset to the original seed (6 gateways), then to a fleet of --gateways (the large
preset's shape); each time `marimo run notebooks/explore.py` is opened in headless Chromium
(/usr/bin/chromium) until every cell has drawn, and the bytes the page receives are counted: over the
websocket (cell outputs: tables' pages, charts' aggregated data, the map) and over HTTP besides marimo's
own frontend files (the same for any notebook, listed apart). The last lines are the figures: a
payload that grows with the fleet would mean rows are shipped, where aggregates should be.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from browser import browser_page, serving  # noqa: E402
from seed import AS_OF, bench_spec  # noqa: E402

READY = ["Factory sites", "Gateways per factory", "Gateways per model and firmware version", "Run query"]
FRONTEND = (".js", ".css", ".woff", ".woff2", ".ttf", ".ico", ".png", ".svg")


def measure(env: dict[str, str], log_dir: Path) -> dict[str, float]:
    """Open explore once; seconds until every READY text is drawn, and KiB received."""
    received = {"websocket": 0, "http_data": 0, "frontend": 0}

    def on_ws(ws):
        ws.on("framereceived", lambda payload: received.__setitem__("websocket", received["websocket"] + len(payload)))

    with serving("notebooks/explore.py", env, log_dir) as url, browser_page() as page:
        responses = []
        page.on("websocket", on_ws)
        page.on("response", lambda r: responses.append(r))
        started = time.perf_counter()
        page.goto(url)
        for text in READY:
            page.get_by_text(text).first.wait_for(state="visible", timeout=600_000)
        page.wait_for_load_state("networkidle", timeout=120_000)
        seconds = time.perf_counter() - started
        page.wait_for_timeout(2_000)  # late frames
        for r in responses:
            try:
                size = len(r.body())
            except Exception:  # redirects and aborted requests have no body
                continue
            kind = "frontend" if "/assets/" in r.url or r.url.split("?")[0].endswith(FRONTEND) else "http_data"
            received[kind] += size
    return {"seconds": seconds, **{k: v / 1024 for k, v in received.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gateways", type=int, default=1_000_000, help="gateways in the large fleet (default 1,000,000)"
    )
    parser.add_argument(
        "--home", default=os.environ.get("FLEETLAB_HOME") or str(Path(tempfile.gettempdir()) / "fleetlab-bench")
    )
    args = parser.parse_args()

    from fleetlab.config import Settings
    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.store.reset import reset

    env = dict(os.environ)
    env.setdefault("FLEETLAB_HOME", args.home)
    settings = Settings.from_env(env)
    log_dir = Path(tempfile.mkdtemp(prefix="fleetlab-payload-"))
    figures = {}
    for label, spec in (("tiny", load_scenario("default").override(as_of=AS_OF)), ("large", bench_spec(args.gateways))):
        loaded = reset(settings, plan(spec))
        figures[label] = measure(env, log_dir)
        f = figures[label]
        print(
            f"{label}: {loaded.counts['gateways']:,} gateways; drawn in {f['seconds']:.1f}s; received "
            f"{f['websocket']:.0f} KiB over the websocket, {f['http_data']:.0f} KiB of other HTTP data, "
            f"{f['frontend']:.0f} KiB of marimo's frontend",
            flush=True,
        )
    tiny, large = figures["tiny"], figures["large"]
    shipped_tiny = tiny["websocket"] + tiny["http_data"]
    shipped_large = large["websocket"] + large["http_data"]
    print(f"shipped_kib_tiny: {shipped_tiny:.0f}")
    print(f"shipped_kib_large: {shipped_large:.0f}")
    print(f"shipped_ratio_large_vs_tiny: {shipped_large / shipped_tiny:.2f}")
    print(f"drawn_s_large: {large['seconds']:.1f}")
    print(f"drawn_ratio_large_vs_tiny: {large['seconds'] / tiny['seconds']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
