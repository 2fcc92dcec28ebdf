"""`fleetlab notebooks [run|edit NAME]`: the notebooks that travel with the package (reset, explore, compare).

`run` serves one as a read-only app (`marimo run`); `edit` opens a copy in the current folder in marimo's
editor (the installed file is never edited; an existing copy is opened as it is). Arguments after `--`
reach the notebook, as with `marimo run NOTEBOOK -- ARGS`.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ..config import Settings
from ..errors import ConfigError
from .parsers import command

_TITLE = re.compile(r'app_title="([^"]+)"')


def notebooks_dir() -> Path:
    """`fleetlab/notebooks/` in an installed wheel (the build copies them there), else the checkout's
    top-level `notebooks/` (an editable install runs the package from `src/`)."""
    package = Path(__file__).resolve().parents[1]
    shipped = package / "notebooks"
    return shipped if shipped.is_dir() else package.parents[1] / "notebooks"


def notebooks() -> dict[str, tuple[Path, str]]:
    """Name → (file, title) of every notebook fleetlab ships."""
    out = {}
    for path in sorted(notebooks_dir().glob("*.py")):
        m = _TITLE.search(path.read_text(encoding="utf-8"))
        out[path.stem] = (path, m.group(1) if m else path.stem)
    return out


def _notebook(name: str) -> Path:
    found = notebooks()
    if name.removesuffix(".py") not in found:
        raise ConfigError(f"no notebook {name!r}; fleetlab ships {', '.join(found)} (`fleetlab notebooks` lists them).")
    return found[name.removesuffix(".py")][0]


def _marimo() -> None:
    if importlib.util.find_spec("marimo") is None:
        raise ConfigError(
            "the notebooks need marimo, which this install lacks: add fleetlab's notebooks extra "
            "(`uv add 'fleetlab[notebooks]'` or `pip install 'fleetlab[notebooks]'`)."
        )


def cmd_notebooks(args: argparse.Namespace, settings: Settings) -> int:
    action = getattr(args, "action", None)
    if action is None:
        for name, (path, title) in notebooks().items():
            print(f"{name:<10} {title}  ({path})")
        print("serve one with `fleetlab notebooks run NAME`, edit a copy with `fleetlab notebooks edit NAME`")
        return 0
    path = _notebook(args.name)
    _marimo()
    flags = ["--port", str(args.port)] if args.port else []
    flags += ["--headless"] if args.headless else []
    if action == "edit":
        copy = Path.cwd() / path.name
        if copy.exists():
            print(f"editing {copy} (your copy, as it is; the installed notebook is unchanged)", file=sys.stderr)
        else:
            shutil.copyfile(path, copy)
            print(f"editing {copy}, a copy of fleetlab's {path.stem} notebook", file=sys.stderr)
        path = copy
    passed = list(args.notebook_args or [])
    command_line = [sys.executable, "-m", "marimo", action, str(path), *flags, *(["--", *passed] if passed else [])]
    try:
        return subprocess.run(command_line, check=False).returncode
    except KeyboardInterrupt:
        return 130


def register(sub) -> None:
    p = command(
        sub,
        "notebooks",
        "the notebooks fleetlab ships: list them, serve one (run) or edit a copy (edit)",
        "fleetlab notebooks",
    )
    p.set_defaults(func=cmd_notebooks, action=None)
    actions = p.add_subparsers(title="notebook commands", metavar="ACTION", dest="action")
    for action, help_text, example in (
        ("run", "serve a notebook as a read-only app (marimo run)", "fleetlab notebooks run explore --port 2718"),
        (
            "edit",
            "open a copy of a notebook in the current folder in marimo's editor",
            "fleetlab notebooks edit explore",
        ),
    ):
        q = command(actions, action, help_text, example)
        q.add_argument("name", metavar="NAME", help="reset, explore or compare (`fleetlab notebooks` lists them)")
        q.add_argument("--port", type=int, help="the port to serve on (default: marimo's)")
        q.add_argument("--headless", action="store_true", help="do not open a browser")
        q.set_defaults(func=cmd_notebooks, notebook_args=[])  # after `--` (cli.main hands them over)
