"""fleetlab: a realistic PostgreSQL database of organizations → factories → gateways in one command.

The public API is what this module exports (imported lazily, so `import fleetlab` stays fast for
the CLI); everything else lives in layers whose imports run one way only (tests/test_layers.py):

    model  →  generate  →  store  →  read  →  app
    (what a fleet is)  (spec → fleet)  (PostgreSQL: server, migrations, load, reset, checks)
                                       (rows out as polars)  (CLI, notebook helpers, charts)

A module may import from its own layer and the layers before it, never after; `errors` and
`_version` sit under all of them.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_EXPORTS = {
    # configuration and connections
    "Settings": "fleetlab.store.config",
    "DatabaseURL": "fleetlab.store.dsn",
    "FleetlabError": "fleetlab.errors",
    # fleets: specs, scenarios, generation
    "FleetSpec": "fleetlab.model.spec",
    "Fleet": "fleetlab.model.fleet",
    "load_scenario": "fleetlab.model.scenarios",
    "list_scenarios": "fleetlab.model.scenarios",
    "generate": "fleetlab.generate.fleets",
    "plan": "fleetlab.generate.fleets",
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
