"""Wiring for the marimo notebooks: where a notebook runs, its flags, its form, its reset gate.

One notebook runs four ways, and behaves the same in each except for who presses the button:

| runtime  | how it starts                                   | flags from                      | reset gate   |
|----------|-------------------------------------------------|---------------------------------|--------------|
| `edit`   | `marimo edit notebooks/reset.py [-- FLAGS]`     | `mo.cli_args()`                 | run button   |
| `run`    | `marimo run notebooks/reset.py [-- FLAGS]`      | `mo.cli_args()`                 | run button   |
| `script` | `python notebooks/reset.py FLAGS`               | `sys.argv`                      | none         |
| `kernel` | an exported .ipynb in IPython (nbval, nbclient) | `$FLEETLAB_NOTEBOOK_ARGS`       | none         |

The flags are `fleetlab reset`'s and the form's fields its options, both from the one table in
`fleetlab.app.options`; the form's values go to the spec directly, never back through a parser.
"""

from __future__ import annotations

import argparse
import html
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl

from ..config import Settings
from ..errors import ConfigError, FleetlabError, SpecError
from ..model.fleet import head
from ..model.tables import TABLES
from . import options
from .failures import clean, run
from .output import print_summary

HEADLESS = ("script", "kernel", "python")


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
    p = _Parser(prog=prog, description="fleet flags, as for `fleetlab reset`")
    options.add_arguments(p)
    return p


def fleet_args(argv: Sequence[str] | None = None, prog: str = "notebook") -> argparse.Namespace:
    """The fleet flags given to the notebook (all None when none were given); see the module doc."""
    if argv is not None:
        return parser(prog).parse_args(list(argv))
    where = runtime()
    if where == "script":
        return parser(prog).parse_args(sys.argv[1:])
    if where in ("edit", "run"):
        import marimo as mo

        return from_cli_args(mo.cli_args(), prog)
    return parser(prog).parse_args(shlex.split(Settings.from_env().notebook_args))


def from_cli_args(cli_args: Mapping[str, Any], prog: str = "notebook") -> argparse.Namespace:
    """The flags marimo has already parsed (`-- --orgs 2` is {"orgs": 2}), checked against the options."""
    known = {o.dest: o for o in options.OPTIONS}
    args = argparse.Namespace(scenario=None, **dict.fromkeys(known))
    unknown = []
    for key, value in cli_args.items():
        dest = key.replace("-", "_")
        if dest != "scenario" and dest not in known:
            unknown.append(f"--{key}")
            continue
        value = value[-1] if isinstance(value, list) else value  # argparse keeps the last of a repeated flag
        setattr(args, dest, str(value))
    if unknown:
        raise ConfigError(f"unrecognized arguments: {' '.join(unknown)}\n{parser(prog).format_usage().strip()}")
    return args


# -- the reset form -------------------------------------------------------------------------


def scenario_names() -> dict[str, str]:
    """Preset name → one-line description, `default` first."""
    from ..model.scenarios import list_scenarios

    return list_scenarios()


def scenario_options(extra: str | None = None) -> list[str]:
    """Scenario names for a dropdown: the presets, and `extra` (a TOML path given as a flag)."""
    names = list(scenario_names())
    return names + [extra] if extra and extra not in names else names


def form_defaults(scenario: str | None, args: argparse.Namespace | None = None) -> dict[str, str]:
    """Initial form values by option name: the scenario's own, replaced by the flags the notebook was given."""
    from ..model.scenarios import load_scenario

    try:
        values = options.as_text(load_scenario(scenario or options.DEFAULT_SCENARIO))
    except SpecError:
        values = {o.name: "" for o in options.OPTIONS}
    if args is not None:
        values.update({name: str(v) for name, v in options.given(args).items() if v is not None})
    return values


def fleet_form(defaults: Mapping[str, str], per_row: int = 3):
    """One text field per option, `per_row` to a line, each as wide as its column, in a form: its value is
    {option name: text} once **Preview** is pressed (None before: use `defaults`). A form sends every
    field at once; fields sent one by one can lose an edit made while the kernel is busy with the
    previous one."""
    import marimo as mo

    names = [o.name for o in options.OPTIONS]
    grid = f"display: grid; grid-template-columns: repeat({per_row}, minmax(0, 1fr)); gap: 0.5rem 1rem"
    cells = "".join(f"<div>{{{n}}}</div>" for n in names)
    fields = {
        o.name: mo.ui.text(value=defaults.get(o.name, ""), label=o.label, placeholder=o.placeholder, full_width=True)
        for o in options.OPTIONS
    }
    return (
        mo.Html(f'<div style="{grid}">{cells}</div>')
        .batch(**fields)
        .form(submit_button_label="Preview", bordered=False)
    )


@dataclass
class Built:
    """A fleet the form asks for, or why there is none (`error`): the reset button reads it to be
    disabled while the form is invalid."""

    fleet: Any = None
    error: FleetlabError | None = None

    def fleet_or_stop(self, title: str = "Cannot build this fleet") -> Any:
        """The fleet; else, in the app, the error stops the cell in a callout (headless: raised)."""
        if self.error is None:
            return self.fleet
        return stop_on_error(self._raise, title)

    def _raise(self):
        raise self.error


def try_build(scenario: str | None, values: Mapping[str, Any]) -> Built:
    """`build_fleet`, its FleetlabError kept instead of raised."""
    try:
        return Built(fleet=build_fleet(scenario, values))
    except FleetlabError as exc:
        return Built(error=exc)


def changes(scenario: str | None, values: Mapping[str, Any]) -> str:
    """Markdown: the scenario's own description, and the fields the form changes from it."""
    base = scenario_names().get(scenario or options.DEFAULT_SCENARIO, "")
    changed = options.changed(scenario, values)
    if not changed:
        return base
    labels = {o.name: o.label for o in options.OPTIONS}
    edits = ", ".join(f"{labels.get(k, k).lower()} {v}" for k, v in changed.items())
    return f"{base} — *changed here:* {edits}"


def build_fleet(scenario: str | None, values: Mapping[str, Any]):
    """The fleet the form asks for: the scenario, with the fields that differ from it (SpecError lists every problem)."""
    from ..generation.fleets import plan

    return plan(options.spec_for(scenario, options.changed(scenario, values)))


def command_line(scenario: str | None, values: Mapping[str, Any]) -> str:
    """The `fleetlab reset` command that loads what the form asks for."""
    return shlex.join(["fleetlab", "reset", *options.command_line(scenario, options.changed(scenario, values))])


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

        mo.stop(True, mo.callout(mo.md(f"**{title}.**\n\n```\n{clean(str(exc))}\n```"), kind="danger"))


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
    from ..store.reset import reset

    return reset(Settings.from_env(), fleet, progress=progress)


def target_description() -> str:
    """Where a reset would go, without any password."""
    from ..store.reset import target

    settings = Settings.from_env()
    if settings.embedded:
        return f"database fleetlab on the embedded server in {settings.home}"
    return str(target(settings).where)


def done_message(result) -> str:
    """Markdown: what a reset loaded, where, how long it took and whether the scenario cache served it
    (all but the first marked volatile: a second run of the same fleet clones what the first built)."""
    loaded = ", ".join(f"{n:,} {table}" for table, n in result.counts.items())
    cache = f"\n\n{volatile(result.cache)}" if result.cache else ""
    return (
        f"## Done\n\nLoaded {loaded} into {volatile(result.url.where)} in {volatile(f'{result.elapsed:.2f} s')}.{cache}"
    )


def counts_frame(counts: Mapping[str, int]) -> pl.DataFrame:
    """Rows per table (of a fleet's `counts()` or a ResetResult's `counts`) as a frame."""
    return pl.DataFrame({"table": list(counts), "rows": list(counts.values())})


def preview(fleet, n: int = 5) -> dict[str, pl.DataFrame]:
    """The first `n` rows of each table the fleet would load (nothing is written)."""
    return {table: head(fleet, table, n) for table in TABLES}


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


def run_script(app, prog: str | None = None) -> int:
    """Run a marimo app as a script; a failure becomes one line on stderr and a non-zero exit code.

    Use as `raise SystemExit(run_script(app))` under `if __name__ == "__main__":`.
    """
    import os

    prog = prog or os.path.basename(sys.argv[0] or "notebook")

    def script() -> int:
        _, defs = app.run()
        result = defs.get("result")
        if result is not None and hasattr(result, "counts"):
            print_summary("reset", result)
        return 0

    return run(script, prog)


NOTEBOOKS = {"reset.py": "Reset the database", "explore.py": "Explore the fleet", "compare.py": "Compare scenarios"}


def navigation(current: str):
    """Links to the other notebooks when they are served together (`uv run marimo run notebooks`: marimo
    opens each as `?file=NAME`); served alone, a line saying how to have them together."""
    import marimo as mo

    together = not headless() and "file" in mo.query_params()
    if together:
        # relative links: they keep whatever path the server is mounted at
        return mo.md(" · ".join(f"[{title}](?file={name})" for name, title in NOTEBOOKS.items() if name != current))
    others = ", ".join(f"`notebooks/{name}`" for name in NOTEBOOKS if name != current)
    return mo.md(
        f"<small>Served alone. `uv run marimo run notebooks` serves this notebook with {others}, "
        "linked to each other.</small>"
    )
