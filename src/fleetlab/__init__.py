"""fleetlab: a realistic PostgreSQL database of organizations → factories → gateways in one command.

The public API is what this module exports (imported lazily, so `import fleetlab` stays fast for
the CLI). The layers beneath it, and the way their imports run, are written once: the import-linter
contract in pyproject.toml, checked by tests/test_layers.py; the README's Layout gives each module a line.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_EXPORTS = {
    # configuration and connections
    "Settings": "fleetlab.config",
    "DatabaseURL": "fleetlab.dsn",
    "FleetlabError": "fleetlab.errors",
    # fleets: specs, scenarios, generation
    "FleetSpec": "fleetlab.model.spec",
    "Fleet": "fleetlab.model.fleet",
    "load_scenario": "fleetlab.model.scenarios",
    "list_scenarios": "fleetlab.model.scenarios",
    "generate": "fleetlab.generation.fleets",
    "plan": "fleetlab.generation.fleets",
    # the database
    "reset": "fleetlab.store.reset",
    "seed": "fleetlab.store.reset",
    "decrypt_password": "fleetlab.store.crypto",
    # queries as typed polars frames
    "read_sql": "fleetlab.read.query",
    "engine": "fleetlab.read.engine",
    "Workbench": "fleetlab.read.workbench",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fleetlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
