"""Wiring for the marimo notebooks: where a notebook runs, its flags, its reset gate.

One notebook runs four ways, and behaves the same in each except for who presses the button:

| runtime  | how it starts                                   | flags from                      | reset gate   |
|----------|-------------------------------------------------|---------------------------------|--------------|
| `edit`   | `marimo edit notebooks/reset.py [-- FLAGS]`     | `mo.cli_args()`                 | run button   |
| `run`    | `marimo run notebooks/reset.py [-- FLAGS]`      | `mo.cli_args()`                 | run button   |
| `script` | `python notebooks/reset.py FLAGS`               | `sys.argv`                      | none         |
| `kernel` | an exported .ipynb in IPython (nbval, nbclient) | `$FLEETLAB_NOTEBOOK_ARGS`       | none         |

The flags are `fleetlab reset`'s (`cli.add_fleet_args`), parsed by the same code, so a bad flag
gives the same message in a notebook as on the command line.
"""

from __future__ import annotations

import argparse
import html
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl

from .errors import ConfigError, FleetlabError

ARGS_ENV = "FLEETLAB_NOTEBOOK_ARGS"
HEADLESS = ("script", "kernel", "python")
# Columns a notebook never shows: volatile (set by the database at load time) or secret.
HIDDEN_COLUMNS = ("created_at", "updated_at", "password_encrypted")


def runtime() -> str:
    """'edit', 'run', 'script', 'kernel' (plain IPython/Jupyter) or 'python' (imported elsewhere)."""
    import marimo as mo

    mode = mo.app_meta().mode
    if mode in ("edit", "run"):
        return mode
    # before marimo's script/test modes: under pytest (nbval) marimo reports "test" inside the kernel too
    ipython = sys.modules.get("IPython")
    if ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None:
        return "kernel"
    if mode in ("script", "test"):
        return "script"
    return "python"


def headless() -> bool:
    """True when nobody can press a button: scripts and kernels reset without asking."""
    return runtime() in HEADLESS


# -- flags ----------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is a ConfigError (shown in the cell, or one line from a script)."""

    def error(self, message: str):  # type: ignore[override]
        raise ConfigError(f"{message}\n{self.format_usage().strip()}")


def parser(prog: str = "notebook") -> argparse.ArgumentParser:
    from .cli import add_fleet_args

    p = _Parser(prog=prog, description="fleet flags, as for `fleetlab reset`")
    add_fleet_args(p)
    return p


def raw_args() -> list[str]:
    """The notebook's flags as command-line words, wherever they come from (see the module doc)."""
    where = runtime()
    if where == "script":
        return list(sys.argv[1:])
    if where in ("edit", "run"):
        import marimo as mo

        return _words(mo.cli_args())
    return shlex.split(os.environ.get(ARGS_ENV, ""))


def _words(cli_args: Mapping[str, Any]) -> list[str]:
    # marimo has already split `-- --orgs 2` into {"orgs": 2}: turn it back into words for argparse
    words: list[str] = []
    for key, value in cli_args.items():
        flag = f"--{key}"
        for v in value if isinstance(value, list) else [value]:
            words += [flag] if v is True else [flag, str(v)]
    return words


def fleet_args(argv: Sequence[str] | None = None, prog: str = "notebook") -> argparse.Namespace:
    """The fleet flags given to the notebook (all None when none were given)."""
    return parser(prog).parse_args(raw_args() if argv is None else list(argv))


FIELDS = ("orgs", "factories_per_org", "gateways_per_factory", "seed", "locale", "as_of")


def scenario_names() -> dict[str, str]:
    """Preset name → one-line description, `default` first."""
    from .scenarios import list_scenarios

    return list_scenarios()


def scenario_options(extra: str | None = None) -> list[str]:
    """Scenario names for a dropdown: the presets, and `extra` (a TOML path given as a flag)."""
    names = list(scenario_names())
    return names + [extra] if extra and extra not in names else names


def scenario_fields(name: str | None) -> dict[str, str]:
    """A scenario's own values for the form fields, as the text a flag would take ('' when unset)."""
    from .scenarios import load_scenario

    spec = load_scenario(name or "default")
    as_of = spec.as_of.isoformat().replace("+00:00", "Z") if spec.as_of is not None else ""
    return {
        "orgs": str(spec.organizations),
        "factories_per_org": str(spec.factories_per_organization),
        "gateways_per_factory": str(spec.gateways_per_factory),
        "seed": str(spec.seed),
        "locale": ",".join(loc for loc, _ in spec.locales),
        "as_of": as_of,
    }


def form_defaults(scenario: str | None, args: argparse.Namespace | None = None) -> dict[str, str]:
    """Initial form values: the scenario's own, replaced by the flags the notebook was given."""
    try:
        values = scenario_fields(scenario)
    except FleetlabError:
        values = dict.fromkeys(FIELDS, "")
    for key in FIELDS:
        given = getattr(args, key, None) if args is not None else None
        if given is not None:
            values[key] = str(given)
    return values


def form_argv(scenario: str | None, values: Mapping[str, Any]) -> list[str]:
    """`fleetlab reset` flags for the form: the scenario, and only the fields that differ from it.

    Passing an unchanged count would turn the hand-written default fleet into a generated one.
    """
    words = ["--scenario", scenario or "default"]
    try:
        own = scenario_fields(scenario)
    except FleetlabError:
        own = {}
    for key in FIELDS:
        value = "" if values.get(key) is None else str(values[key]).strip()
        if value and value != own.get(key, ""):
            words += [f"--{key.replace('_', '-')}", value]
    return words


def build_fleet(argv: Sequence[str]):
    """The fleet `fleetlab reset ARGV` would load (same parser, same errors)."""
    from .cli import build_fleet as build

    return build(parser().parse_args(list(argv)))


# -- gate, reset, script --------------------------------------------------------------------


def gate(button, message: str = "Press the button to continue.") -> None:
    """Stop the cell until `button` (a `mo.ui.run_button`) is pressed; headless runs pass through."""
    if headless():
        return
    import marimo as mo

    mo.stop(not button.value, mo.md(message))


def stop_on_error(build: Callable[[], Any], title: str = "Failed") -> Any:
    """`build()`; in the app a FleetlabError stops the cell with its message, headless it propagates."""
    try:
        return build()
    except FleetlabError as exc:
        if headless():
            raise
        import marimo as mo

        mo.stop(True, mo.callout(mo.md(f"**{title}.**\n\n```\n{_scrub(str(exc))}\n```"), kind="danger"))


def volatile(text: str) -> str:
    """`text` marked as differing from run to run (a URL, an elapsed time): the snapshot tests mask it."""
    return f'<span class="fl-volatile">{html.escape(str(text))}</span>'


@contextmanager
def progress_bar(total: int, title: str = "Loading") -> Iterator[Callable[[str, int, int], None] | None]:
    """A `load` progress callback drawing marimo's progress bar; None in a kernel (no frontend there)."""
    if runtime() not in ("edit", "run"):
        yield None
        return
    import marimo as mo

    seen: dict[str, int] = {}
    with mo.status.progress_bar(total=max(total, 1), title=title, remove_on_exit=True) as bar:

        def update(table: str, done: int, table_total: int) -> None:
            step = done - seen.get(table, 0)
            seen[table] = done
            bar.update(increment=step, subtitle=f"{table}: {done:,} of {table_total:,} rows")

        yield update


def reset_workbench(fleet, *, progress: Callable[[str, int, int], None] | None = None):
    """Reset the workbench database (DATABASE_URL or the embedded server) with `fleet`."""
    from .config import Settings
    from .reset import reset

    return reset(Settings.from_env(), fleet, progress=progress)


def target_description() -> str:
    """Where a reset would go, without any password."""
    from .config import Settings
    from .reset import target

    settings = Settings.from_env()
    if settings.embedded:
        return f"database fleetlab on the embedded server in {settings.home}"
    return str(target(settings).where)


def done_message(result) -> str:
    """Markdown: what a reset loaded, where, and how long it took (the last two marked volatile)."""
    loaded = ", ".join(f"{n:,} {table}" for table, n in result.counts.items())
    return (
        f"## Done\n\nLoaded {loaded} into {volatile(result.url.where)} "
        f"in {volatile(f'{result.elapsed:.2f} s')}."
    )


def summary(result) -> pl.DataFrame:
    """Rows per table of a ResetResult."""
    return pl.DataFrame({"table": list(result.counts), "rows": list(result.counts.values())})


def first_rows(url=None, n: int = 5) -> dict[str, pl.DataFrame]:
    """The first `n` rows of each table (stable order), without volatile or secret columns."""
    from .fleet import TABLES
    from .query import read_sql

    out = {}
    for table in TABLES:
        frame = read_sql(f"SELECT * FROM {table} ORDER BY id LIMIT {int(n)}", url=url)
        out[table] = frame.drop([c for c in HIDDEN_COLUMNS if c in frame.columns])
    return out


def preview(fleet, n: int = 5) -> dict[str, pl.DataFrame]:
    """The first `n` rows of each table the fleet would load (nothing is written)."""
    from .fleet import TABLES

    chunks = getattr(fleet, "chunks", None)
    if chunks is None:
        return {name: frame.head(n) for name, frame in fleet.frames().items()}
    return {table: next(iter(chunks(table, n)), pl.DataFrame()).head(n) for table in TABLES}


class FrameList:
    """Frames shown one under the other: plain text and HTML, the way IPython shows one frame."""

    def __init__(self, frames: Mapping[str, pl.DataFrame]):
        self.frames = dict(frames)

    def __repr__(self) -> str:
        return "\n\n".join(f"{name}\n{frame!r}" for name, frame in self.frames.items())

    def _repr_html_(self) -> str:
        return "".join(f"<h4>{html.escape(name)}</h4>{frame._repr_html_()}" for name, frame in self.frames.items())


def tabs(frames: Mapping[str, pl.DataFrame]):
    """One tab per frame in marimo; in a plain kernel (the snapshots) the frames one under the other."""
    if runtime() in ("edit", "run", "script"):
        import marimo as mo

        return mo.ui.tabs(dict(frames))
    return FrameList(frames)


def counts_frame(counts: Mapping[str, int]) -> pl.DataFrame:
    return pl.DataFrame({"table": list(counts), "rows": list(counts.values())})


def run_script(app, prog: str | None = None) -> int:
    """Run a marimo app as a script; a failure becomes one line on stderr and a non-zero exit code.

    Use as `raise SystemExit(run_script(app))` under `if __name__ == "__main__":`.
    """
    prog = prog or os.path.basename(sys.argv[0] or "notebook")
    try:
        _, defs = app.run()
    except FleetlabError as exc:
        print(f"{prog}: error: {_scrub(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing half-done was kept.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a script reports, it does not dump a traceback
        if os.environ.get("FLEETLAB_DEBUG"):
            raise
        print(
            f"{prog}: unexpected error: {type(exc).__name__}: {_scrub(str(exc))}\n"
            "Rerun with FLEETLAB_DEBUG=1 for the traceback.",
            file=sys.stderr,
        )
        return 70
    result = defs.get("result")
    if result is not None and hasattr(result, "counts"):
        from .cli import print_summary

        print_summary("reset", result)
    return 0


def _scrub(text: str) -> str:
    from .cli import scrub

    try:
        from .config import Settings

        settings = Settings.from_env()
    except FleetlabError:
        settings = None
    return scrub(text, settings)


# -- exploration ----------------------------------------------------------------------------


def fleet_context(url=None) -> dict[str, Any]:
    """What the workbench holds: the recorded scenario and the Clock statuses are computed with."""
    from .inspect import clock, recorded_scenario
    from .query import connect

    with connect(url) as conn:
        return {"scenario": recorded_scenario(conn), "clock": clock(conn)}


def describe(context: Mapping[str, Any]) -> str:
    """One paragraph of markdown about `fleet_context()`."""
    scenario, clock = context["scenario"], context["clock"]
    if not scenario:
        return "This database records no scenario (was it seeded by fleetlab?). Statuses are relative to now."
    counts = scenario.get("counts", {})
    loaded = ", ".join(f"{n:,} {t}" for t, n in counts.items() if isinstance(n, int))
    return (
        f"Scenario **{scenario.get('name', '?')}**, seed {scenario.get('seed', '?')}, as of "
        f"{clock.as_of:%Y-%m-%d %H:%M} UTC: {loaded or 'counts not recorded'}. "
        f"A gateway is *online* when seen within {clock.online_within} of that time, *stale* after "
        f"{clock.stale_after}. Soft-deleted rows are left out unless a table says otherwise."
    )


def last_seen(url=None) -> pl.Series:
    """`last_seen_at` of the active gateways (nulls: never seen)."""
    from .query import read_sql

    return read_sql(
        """
        SELECT g.last_seen_at FROM gateways g
        JOIN factories f ON f.id = g.factory_id JOIN organizations o ON o.id = f.organization_id
        WHERE g.deleted_at IS NULL AND f.deleted_at IS NULL AND o.deleted_at IS NULL
        """,
        url=url,
    )["last_seen_at"]


def factory_options(per_factory: pl.DataFrame) -> dict[str, str]:
    """Dropdown options 'organization / factory' → factory id, in the frame's order."""
    labels = per_factory.select(pl.format("{} / {}", "organization", "factory"))[:, 0].to_list()
    ids = per_factory["factory_id"].to_list()
    out: dict[str, str] = {}
    for label, fid in zip(labels, ids, strict=True):
        out[label if label not in out else f"{label} ({fid[:8]})"] = fid
    return out


def factory_gateways(factory_id: str, url=None, *, include_deleted: bool = False) -> pl.DataFrame:
    """The gateways of one factory, by device id (no secrets, no volatile columns)."""
    from .query import read_sql

    return read_sql(
        """
        SELECT gateway_id, name, model, firmware_version, last_seen_at, url, email,
               metadata->>'protocol' AS protocol, metadata->>'ip' AS ip, deleted_at, id
        FROM gateways
        WHERE factory_id = $1::uuid AND ($2::boolean OR deleted_at IS NULL)
        ORDER BY gateway_id, deleted_at NULLS FIRST, id
        """,
        url=url,
        params=[factory_id, include_deleted],
    )


# -- comparing scenarios --------------------------------------------------------------------


def scenario_fleet(name: str, as_of: str | None = None):
    """The fleet of scenario `name` (at `as_of`, ISO-8601, when given), built but not loaded."""
    return build_fleet(["--scenario", name, *(["--as-of", as_of] if as_of else [])])


def compare_counts(fleets: Mapping[str, Any]) -> pl.DataFrame:
    """Rows per table of each fleet {label: fleet}, one column per fleet."""
    from .fleet import TABLES

    return pl.DataFrame({"table": list(TABLES), **{label: [f.counts()[t] for t in TABLES] for label, f in fleets.items()}})


def sample_gateways(fleet, n: int = 20_000) -> pl.DataFrame:
    """Up to `n` gateways of `fleet` (whole factories, in order): enough for a mix, cheap for a million."""
    chunks = getattr(fleet, "chunks", None)
    frame = next(iter(chunks("gateways", n)), None) if chunks else fleet.gateways
    return (frame if frame is not None else pl.DataFrame({"model": [], "firmware_version": []})).head(n)


def mix_of(gateways: pl.DataFrame, column: str) -> pl.DataFrame:
    """Gateways per value of `column`, most common first, with its share."""
    return (
        gateways.group_by(column)
        .len("gateways")
        .with_columns((pl.col("gateways") / pl.col("gateways").sum()).alias("share"))
        .sort(["gateways", column], descending=[True, False])
    )
