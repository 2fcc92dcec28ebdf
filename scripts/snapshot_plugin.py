"""pytest hooks that make the notebook snapshots hermetic (loaded by tests/notebooks/conftest.py).

- nbval's options are set here, not on a command line: the kernel is this environment's Python
  (`--nbval-current-env`) and the sanitizer is `tests/notebooks/sanitize.cfg`; and the snapshots are
  collected even without `--nbval`, so `uv run pytest` runs them too.
- Before a snapshot's kernel starts, its world (`snapshot_worlds.World`) is loaded into a database of
  its own on the test server; the kernel sees only that. The database is dropped when the snapshot is
  done, and an embedded test server started for the snapshots is stopped at the end of the session.
- A mismatch is reported as the values that changed (`snapshot_diff.explain`), not as raw markup.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import pytest
import snapshot_diff
import snapshot_worlds as snapshots
import suite_server

from fleetlab.errors import FleetlabError

_STASH = pytest.StashKey[dict]()


def _state(config: pytest.Config) -> dict:
    if _STASH not in config.stash:
        config.stash[_STASH] = {"stack": contextlib.ExitStack(), "server": None, "worlds": {}}
    return config.stash[_STASH]


def pytest_configure(config: pytest.Config) -> None:
    suite_server.start_for_session(config)
    # the mark its cells get (pyproject.toml registers it too; a team's own snapshots run without it)
    config.addinivalue_line("markers", "server: reaches the test server")
    option = config.option
    if getattr(option, "nbval_sanitize_with", None) is None:
        option.nbval_sanitize_with = str(snapshots.SANITIZE)
    if not getattr(option, "nbval_kernel_name", None):
        option.nbval_current_env = True


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    """The snapshots are tests even without --nbval (with it, nbval collects them itself)."""
    option = parent.config.option
    nbval_collects = getattr(option, "nbval", False) or getattr(option, "nbval_lax", False)
    if file_path.suffix == ".ipynb" and file_path.parent == snapshots.SNAPSHOTS and not nbval_collects:
        from nbval.plugin import IPyNbFile

        return IPyNbFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every snapshot cell runs on the test server (its world is loaded there): marked `server`, so the
    suite's pass against another server (`-m server`, .ci/run) runs them too."""
    for item in items:
        if _notebook_file(item) is not None:
            item.add_marker(pytest.mark.server)


def _notebook_file(item: pytest.Item):
    from nbval.plugin import IPyNbCell

    return item.parent if isinstance(item, IPyNbCell) else None


def _server(config: pytest.Config):
    state = _state(config)
    if state["server"] is None:
        state["server"] = state["stack"].enter_context(suite_server.maintenance_url())
        state["home"] = Path(state["stack"].enter_context(tempfile.TemporaryDirectory(prefix="fleetlab-snapshots-")))
    return state["server"], state["home"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    """Load the snapshot's world before nbval starts its kernel (in the first cell's setup)."""
    nb_file = _notebook_file(item)
    if nb_file is None:
        return (yield)
    worlds = _state(item.config)["worlds"]
    if nb_file.nodeid not in worlds:
        try:
            recipe = snapshots.Recipe.of(nb_file.nb, nb_file.path.name)
            server_url, home = _server(item.config)
            worlds[nb_file.nodeid] = snapshots.World.open(server_url, nb_file.path.stem, recipe.args, home)
        except snapshots.SnapshotError as exc:
            worlds[nb_file.nodeid] = str(exc)
        except FleetlabError as exc:
            worlds[nb_file.nodeid] = f"{nb_file.path.name}: its world cannot be loaded: {exc}"
    world = worlds[nb_file.nodeid]
    if isinstance(world, str):  # no world, no kernel: every cell fails with the reason
        pytest.fail(world, pytrace=False)
    with world.environment():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """Drop the snapshot's database after its last cell: before the teardown, which after the session's
    last test also stops a server the session started (the kernel's connection is ended by the drop)."""
    nb_file = _notebook_file(item)
    if nb_file is not None and (nextitem is None or nextitem.parent is not nb_file):
        world = _state(item.config)["worlds"].get(nb_file.nodeid)
        if isinstance(world, snapshots.World):
            world.drop()
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _STASH in config.stash:
        state = config.stash[_STASH]
        for world in state["worlds"].values():
            if isinstance(world, snapshots.World):
                with contextlib.suppress(Exception):
                    world.drop()
        state["stack"].close()
    suite_server.stop_for_session(config)


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object, right: object) -> list[str] | None:
    """nbval asks this for every output mismatch (left: stored, right: now)."""
    if op == "==" and isinstance(left, str) and isinstance(right, str):
        return snapshot_diff.explain(left, right)
    return None
