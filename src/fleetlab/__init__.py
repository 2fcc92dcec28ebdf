"""fleetlab: a realistic PostgreSQL database of organizations → factories → gateways in one command.

The public names are imported lazily, so `import fleetlab` stays fast for the CLI.
(No export shares its name with a submodule: `fleetlab.reset` is the module, `fleetlab.reset.reset` the function.)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Settings": "fleetlab.config",
    "DatabaseURL": "fleetlab.dsn",
    "FleetlabError": "fleetlab.errors",
    "Fleet": "fleetlab.fleet",
    "decrypt_password": "fleetlab.crypto",
    # generator (issue: configurable fleets)
    "FleetSpec": "fleetlab.spec",
    "generate": "fleetlab.generator",
    "load_scenario": "fleetlab.scenarios",
    # queries (issue: typed polars frames)
    "read_sql": "fleetlab.query",
    "engine": "fleetlab.query",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fleetlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
