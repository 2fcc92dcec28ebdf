"""Write src/fleetlab/model/faker_locales.json from the installed Faker: the locales a spec may name
and their countries' time zones, so that checking a spec does not import Faker.

    uv run python scripts/faker_locales.py

Run it after Faker is upgraded (tests/test_spec.py fails until the file matches the installed Faker).
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

from fleetlab.model.values import known_locales

PATH = Path(__file__).resolve().parents[1] / "src" / "fleetlab" / "model" / "faker_locales.json"


def table() -> dict:
    return {"faker": metadata.version("faker"), "locales": {k: list(v) for k, v in sorted(known_locales().items())}}


if __name__ == "__main__":
    PATH.write_text(json.dumps(table(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {PATH}")
