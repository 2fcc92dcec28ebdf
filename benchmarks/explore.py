"""Benchmark: how long the explore notebook takes in a browser and to export, 1M gateways against a small fleet.

    uv run python benchmarks/explore.py [--orgs 100] [--runs 3] [--home-small DIR] [--home-large DIR]

In one run, each fleet in its own FLEETLAB_HOME (its own embedded server, so both stay built):
the small fleet (`fleetlab reset --scenario multi-tenant --seed 5 --as-of 2026-01-01T00:00:00Z`) and
the large one (`--scenario large --orgs N`, same seed and time: N x 10,000 gateways, 1,000,000 by
default, 200,000 with `--orgs 20`) are reset once, each by `fleetlab reset` in a child process (the
scenario cache makes a repeated reset of the same fleet take seconds). Then, per fleet:

- `marimo run notebooks/explore.py` is opened --runs times, each in a fresh page of headless Chromium
  (/usr/bin/chromium, a 1400x1800 viewport). A page is done when every cell has finished and drawn:
  the websocket's cell-op messages (the statuses marimo's frontend shows) leave no cell queued or
  running, every function call a table or chart made has had its answer, no HTTP request is in
  flight, marimo's running indicator ([data-testid=loading-indicator]) is gone, the READY texts are
  on the page and two animation frames have passed; it counts as done at the first moment this holds
  if it still holds, with no websocket frame and no request, half a second later (QUIET_S).
  Playwright's own "networkidle" is awaited on top. Figures are medians over the runs:
  - cells_done_s_*: from page.goto until done (the first run, after the server started, is printed
    apart as cells_done_cold_s_*);
  - filter_change_s_*: choosing "stale" in the "Status" filter (open the list, click the option,
    Escape) until done again, at least one cell having run;
  - org_filter_s_*: the same with the first organization of the "Organizations" filter, once
    "stale" is chosen again to clear it;
  - shipped_kib_*: what the first load received over the websocket and as HTTP data besides
    marimo's frontend files (as benchmarks/explore_payload.py counts it).
- export_s_*: `uv run marimo export html notebooks/explore.py -o FILE`, the whole process, best of 2.

The goals of issue 24 are the ratios: cells_done_ratio_large_vs_small and export_ratio_large_vs_small
at most 2.0, filter_change_s_large at most 2 s. The last lines are the figures, `name: value` each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from browser import ROOT, chromium, serving  # noqa: E402

AS_OF = "2026-01-01T00:00:00Z"
NOTEBOOK = "notebooks/explore.py"
READY = ["Factory sites", "Gateways per factory", "Gateways per model and firmware version", "Run query"]
FRONTEND = (".js", ".css", ".woff", ".woff2", ".ttf", ".ico", ".png", ".svg")
VIEWPORT = {"width": 1400, "height": 1800}
POLL_MS = 25
QUIET_S = 0.5
TIMEOUT_S = 900
STATUS_CHOICE = "stale"
BUSY = ("queued", "running")


def fleet_flags(scenario: str, orgs: int | None) -> list[str]:
    flags = ["--scenario", scenario, "--seed", "5", "--as-of", AS_OF]
    return flags + (["--orgs", str(orgs)] if orgs else [])


def home_env(home: str) -> dict[str, str]:
    """The environment for a child that works on the embedded server under `home`."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["FLEETLAB_HOME"] = home
    return env


def reset_fleet(env: dict[str, str], flags: list[str]) -> int:
    """`fleetlab reset FLAGS --yes` in a child process; the gateways it loaded."""
    started = time.perf_counter()
    done = subprocess.run(
        ["uv", "run", "--quiet", "fleetlab", "reset", *flags, "--yes"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"fleetlab reset {' '.join(flags)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    found = re.search(r"gateways\s+([\d,]+) rows", done.stdout)
    if not found:
        raise SystemExit(f"fleetlab reset printed no gateway count:\n{done.stdout[-2000:]}")
    gateways = int(found.group(1).replace(",", ""))
    print(f"reset {' '.join(flags)}: {gateways:,} gateways in {time.perf_counter() - started:.1f}s", flush=True)
    return gateways


class Watch:
    """What one page has heard: each cell's last status (from marimo's cell-op messages), function
    calls asked and answered, HTTP requests in flight, the time of the last activity, bytes received."""

    def __init__(self, page):
        self.status: dict[str, str] = {}
        self.runs = 0  # cells seen starting to run
        self.calls = 0
        self.answers = 0
        self.pending: set = set()
        self.last_activity = time.perf_counter()
        self.ws_bytes = 0
        self.responses: list = []
        self.events: list[tuple[float, str, str]] = []  # (perf_counter, cell id, status), with --trace
        page.on("websocket", lambda ws: ws.on("framereceived", self.frame))
        page.on("request", self.request)
        page.on("requestfinished", self.request_done)
        page.on("requestfailed", self.request_done)
        page.on("response", self.response)

    def frame(self, payload) -> None:
        self.last_activity = time.perf_counter()
        self.ws_bytes += len(payload)
        head = payload[:40] if isinstance(payload, str) else ""
        if '"cell-op"' in head:
            data = json.loads(payload).get("data", {})
            if data.get("status"):
                self.status[data["cell_id"]] = data["status"]
                self.events.append((self.last_activity, data["cell_id"], data["status"]))
                self.runs += data["status"] == "running"
        elif '"function-call-result"' in head:
            self.answers += 1

    def request(self, request) -> None:
        if request.resource_type == "websocket":
            return
        self.last_activity = time.perf_counter()
        self.pending.add(request)
        self.calls += "function_call" in request.url

    def request_done(self, request) -> None:
        self.last_activity = time.perf_counter()
        self.pending.discard(request)

    def response(self, response) -> None:
        self.responses.append(response)

    def busy(self) -> bool:
        return bool(self.pending) or self.answers < self.calls or any(s in BUSY for s in self.status.values())

    def shipped_kib(self) -> float:
        """KiB received over the websocket and as HTTP data besides marimo's frontend files."""
        http = 0
        for r in self.responses:
            if "/assets/" in r.url or r.url.split("?")[0].endswith(FRONTEND):
                continue
            try:
                http += len(r.body())
            except Exception:  # redirects and aborted requests have no body
                continue
        return (self.ws_bytes + http) / 1024


# In one evaluation (each round trip waits for a busy renderer): marimo's running indicator is gone,
# every text is in a visible element (shadow roots included: marimo's widgets draw in them), and two
# animation frames have passed, so what arrived last has been painted.
DRAWN_JS = """async (texts) => {
  if (document.querySelector('[data-testid="loading-indicator"]')) return false;
  const missing = new Set(texts);
  const visit = (root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
    for (let node = walker.currentNode; node && missing.size; node = walker.nextNode()) {
      if (node.shadowRoot) visit(node.shadowRoot);
      if (node.nodeType !== Node.TEXT_NODE) continue;
      const parent = node.parentElement;
      for (const text of missing) {
        if (node.data.includes(text) && parent && parent.getClientRects().length
            && getComputedStyle(parent).visibility !== "hidden") missing.delete(text);
      }
    }
  };
  visit(document.body);
  if (missing.size) return false;
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return true;
}"""


def drawn(page) -> bool:
    return page.evaluate(DRAWN_JS, READY)


def settle(page, watch: Watch, runs_before: int) -> float:
    """The perf_counter time at which every cell was done and drawn (see the module's docstring),
    once more than `runs_before` cells have started to run."""
    deadline = time.perf_counter() + TIMEOUT_S
    candidate = None
    while time.perf_counter() < deadline:
        page.wait_for_timeout(POLL_MS)
        if watch.runs <= runs_before or watch.busy():
            candidate = None
            continue
        if candidate is None:
            seen = watch.last_activity
            if drawn(page):
                candidate = (time.perf_counter(), seen)
            continue
        at, seen = candidate
        if watch.last_activity != seen:
            candidate = None
        elif time.perf_counter() - at >= QUIET_S:
            page.wait_for_load_state("networkidle", timeout=120_000)
            if watch.last_activity == seen and not watch.busy():
                return at
            candidate = None
    stuck = sorted(c for c, s in watch.status.items() if s in BUSY)
    raise TimeoutError(
        f"explore was not done after {TIMEOUT_S}s: cells still busy {stuck}, {len(watch.pending)} requests "
        f"in flight, {watch.calls - watch.answers} function calls unanswered; see marimo's log"
    )


def choose(page, watch: Watch, label: str, option: str, trace: bool = False) -> float:
    """Choose (or un-choose) `option` in the multiselect labelled `label` as a user would; seconds
    from the click on the option until every cell is done again (with `trace`, each cell's run printed)."""
    page.locator("marimo-multiselect").filter(has_text=label).get_by_role("button").first.click()
    item = page.get_by_role("option", name=option, exact=True)
    item.wait_for(state="visible", timeout=30_000)
    runs_before = watch.runs
    started = time.perf_counter()
    watch.events.clear()
    item.click()
    page.keyboard.press("Escape")
    done = settle(page, watch, runs_before)
    if trace:
        print_trace(watch.events, started, done, f"{label} = {option}")
    return done - started


def cell_lines() -> dict[str, str]:
    """marimo's cell id → the cell's first line of code, for --trace."""
    from marimo._ast.load import load_app

    app = load_app(str(ROOT / NOTEBOOK))
    return {cid: cell._cell.code.strip().splitlines()[0][:60] for cid, cell in app._cell_manager.valid_cells()}


def print_trace(events: list[tuple[float, str, str]], started: float, done: float, what: str) -> None:
    """Each cell that ran after the click: when it started and how long it ran, seconds from the click."""
    lines, began = cell_lines(), {}
    print(f"  trace of {what}: done at {done - started:.2f}s")
    for at, cid, status in events:
        if status == "running":
            began[cid] = at
        elif status == "idle" and cid in began:
            start = began.pop(cid)
            print(f"    {start - started:6.2f}s +{at - start:5.2f}s  {lines.get(cid, cid)}")


def first_option(page, label: str) -> str:
    raw = page.locator("marimo-multiselect").filter(has_text=label).first.get_attribute("data-options")
    options = json.loads(raw or "[]")
    if not options:
        raise SystemExit(f'the "{label}" filter offers no option: is the fleet empty?')
    return options[0]


def one_visit(browser, url: str, trace: bool = False) -> dict[str, float]:
    """Open explore in a fresh page: load, the Status filter, the Organizations filter."""
    page = browser.new_page(viewport=VIEWPORT)
    try:
        watch = Watch(page)
        started = time.perf_counter()
        page.goto(url)
        load_s = settle(page, watch, 0) - started
        shipped = watch.shipped_kib()
        status_s = choose(page, watch, "Status", STATUS_CHOICE, trace)
        choose(page, watch, "Status", STATUS_CHOICE)  # cleared: the organization is measured alone
        org_s = choose(page, watch, "Organizations", first_option(page, "Organizations"), trace)
    finally:
        page.close()
    return {"load": load_s, "status": status_s, "org": org_s, "shipped": shipped}


def browse(env: dict[str, str], runs: int, label: str, trace: bool = False) -> dict[str, float]:
    """`runs` visits of explore on one `marimo run` server; medians, and the first (cold) load."""
    visits = []
    logs = Path(tempfile.mkdtemp(prefix=f"fleetlab-explore-bench-{label}-"))
    print(f"{label}: marimo's log in {logs}", flush=True)
    with serving(NOTEBOOK, env, logs) as url, chromium() as browser:
        for n in range(runs):
            visit = one_visit(browser, url, trace)
            visits.append(visit)
            print(
                f"{label} visit {n + 1}: cells done {visit['load']:.2f}s, status filter {visit['status']:.2f}s, "
                f"organization filter {visit['org']:.2f}s, {visit['shipped']:.0f} KiB shipped",
                flush=True,
            )
    figures = {k: statistics.median(v[k] for v in visits) for k in ("load", "status", "org")}
    return figures | {"cold": visits[0]["load"], "shipped": visits[0]["shipped"]}


def export(env: dict[str, str], repeat: int, label: str) -> float:
    """Seconds of `uv run marimo export html notebooks/explore.py -o FILE`, the whole process, best of `repeat`."""
    best = float("inf")
    with tempfile.TemporaryDirectory(prefix="fleetlab-explore-export-") as out:
        for n in range(repeat):
            target = Path(out) / f"explore-{n}.html"
            started = time.perf_counter()
            done = subprocess.run(
                ["uv", "run", "--quiet", "marimo", "export", "html", NOTEBOOK, "-o", str(target)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - started
            if done.returncode != 0 or not target.exists():
                raise SystemExit(f"marimo export html failed ({label}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            print(f"{label} export {n + 1}: {seconds:.2f}s, {target.stat().st_size / 1024:.0f} KiB", flush=True)
            best = min(best, seconds)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=100, help="organizations of the large fleet, 10,000 gateways each")
    parser.add_argument("--runs", type=int, default=3, help="browser visits per fleet (default 3; medians)")
    parser.add_argument("--exports", type=int, default=2, help="exports per fleet (default 2; best)")
    parser.add_argument("--only", choices=("small", "large"), help="browse and export one fleet, print no ratio")
    parser.add_argument("--trace", action="store_true", help="print each cell's run during the filter changes")
    tmp = Path(tempfile.gettempdir())
    parser.add_argument("--home-small", default=str(tmp / "fleetlab-bench-explore-small"))
    parser.add_argument("--home-large", default=str(tmp / "fleetlab-bench-explore-large"))
    args = parser.parse_args()

    fleets = {
        "small": (home_env(args.home_small), fleet_flags("multi-tenant", None)),
        "large": (home_env(args.home_large), fleet_flags("large", args.orgs)),
    }
    if args.only:
        fleets = {args.only: fleets[args.only]}
    gateways = {label: reset_fleet(env, flags) for label, (env, flags) in fleets.items()}
    figures = {}
    for label, (env, _) in fleets.items():
        figures[label] = browse(env, args.runs, label, args.trace) | {"export": export(env, args.exports, label)}
    if args.only:
        return 0
    small, large = figures["small"], figures["large"]
    print(f"gateways_small: {gateways['small']}")
    print(f"gateways_large: {gateways['large']}")
    for label, f in figures.items():
        print(f"cells_done_s_{label}: {f['load']:.2f}")
        print(f"cells_done_cold_s_{label}: {f['cold']:.2f}")
    print(f"cells_done_ratio_large_vs_small: {large['load'] / small['load']:.2f}")
    for label, f in figures.items():
        print(f"filter_change_s_{label}: {f['status']:.2f}")
    for label, f in figures.items():
        print(f"org_filter_s_{label}: {f['org']:.2f}")
    for label, f in figures.items():
        print(f"export_s_{label}: {f['export']:.2f}")
    print(f"export_ratio_large_vs_small: {large['export'] / small['export']:.2f}")
    for label, f in figures.items():
        print(f"shipped_kib_{label}: {f['shipped']:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
