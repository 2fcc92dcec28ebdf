"""The original seed (the platform's `seed.ts`), value for value: Acme Manufacturing, three plants,
two gateways each, every gateway's password `admin123`.

Rows are created at the scenario's `as_of` (the original seeds "now"), and `last_seen_at` keeps the
original's offsets from that moment (15 minutes, never, 5 minutes, 1 hour, 30 minutes, never). The
UUIDs are keyed by the seed, so the same scenario gives the same rows; the ciphertexts differ on
every load (a fresh nonce per row, where the original reuses one value for all six).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import polars as pl

from ..model.fleet import FACTORY_SCHEMA, GATEWAY_SCHEMA, ORGANIZATION_SCHEMA, PASSWORD, Fleet
from ..model.spec import FleetSpec, scenario_record
from .keyed import keyed_uuid

SEED_PASSWORD = "admin123"
EMAIL = "admin@example.com"

ORGANIZATION = {"name": "Acme Manufacturing", "metadata": {"industry": "Manufacturing", "founded": 1995}}

FACTORIES = [
    {
        "name": "Springfield Plant",
        "location": "Building 3, Springfield, IL",
        "timezone": "America/Chicago",
        "metadata": {"manager": "John Smith", "phone": "555-0101"},
    },
    {
        "name": "Detroit Assembly",
        "location": "1200 Industrial Pkwy, Detroit, MI",
        "timezone": "America/Detroit",
        "metadata": {"shifts": ["6am-2pm", "2pm-10pm", "10pm-6am"], "capacity": 5000},
    },
    {
        "name": "Austin Facility",
        "location": "500 Tech Blvd, Austin, TX",
        "timezone": "America/Chicago",
        "metadata": {"type": "R&D"},
    },
]

# per factory, two gateways: (gateway_id, name, url, model, firmware, minutes before creation last seen, metadata)
GATEWAYS = [
    [
        (
            "GW-SPR-001",
            "North Wing Gateway",
            "ws://192.168.1.100:5000",
            "CTC-GW-100",
            "v2.1.0",
            15,
            {"zone": "North Wing", "floor": 1},
        ),
        (
            "GW-SPR-002",
            "South Wing Gateway",
            "ws://192.168.1.101:5000",
            "CTC-GW-200",
            "v2.2.1",
            None,
            {"zone": "South Wing", "floor": 2},
        ),
    ],
    [
        (
            "GW-DET-001",
            "Main Floor Gateway",
            "ws://192.168.2.100:5000",
            "CTC-GW-100",
            "v2.0.5",
            5,
            {"area": "Main Floor", "line": "A"},
        ),
        (
            "GW-DET-002",
            "Assembly Line Gateway",
            "ws://192.168.2.101:5000",
            "CTC-GW-200",
            "v2.1.0",
            60,
            {"area": "Assembly", "line": "B"},
        ),
    ],
    [
        ("GW-AUS-001", "Lab Gateway", "ws://192.168.3.100:5000", "CTC-GW-100", "v2.2.1", 30, {"room": "Lab 5A"}),
        (
            "GW-AUS-002",
            "Server Room Gateway",
            "ws://192.168.3.101:5000",
            "CTC-GW-200",
            "v2.0.5",
            None,
            {"room": "Server Room", "rack": "R1"},
        ),
    ],
]


def acme_fleet(as_of: datetime, seed: int = 0) -> Fleet:
    """The original seed's fleet, created at `as_of`; `seed` keys the UUIDs."""
    org_id = keyed_uuid(seed, "org", 0)
    created = {"created_at": as_of, "updated_at": as_of, "deleted_at": None}
    orgs = [{"id": org_id, "name": ORGANIZATION["name"], "metadata": json.dumps(ORGANIZATION["metadata"]), **created}]
    factories, gateways = [], []
    for f, (factory, devices) in enumerate(zip(FACTORIES, GATEWAYS, strict=True)):
        factory_id = keyed_uuid(seed, "org", 0, "factory", f)
        factories.append(
            {
                "id": factory_id,
                "organization_id": org_id,
                "name": factory["name"],
                "location": factory["location"],
                "timezone": factory["timezone"],
                "metadata": json.dumps(factory["metadata"]),
                **created,
            }
        )
        for g, (device, name, url, model, firmware, minutes, metadata) in enumerate(devices):
            gateways.append(
                {
                    "id": keyed_uuid(seed, "org", 0, "factory", f, "gateway", g),
                    "factory_id": factory_id,
                    "gateway_id": device,
                    "name": name,
                    "url": url,
                    "email": EMAIL,
                    "model": model,
                    "firmware_version": firmware,
                    "last_seen_at": None if minutes is None else as_of - timedelta(minutes=minutes),
                    "metadata": json.dumps(metadata),
                    **created,
                }
            )
    return Fleet(
        organizations=pl.DataFrame(orgs, schema=ORGANIZATION_SCHEMA),
        factories=pl.DataFrame(factories, schema=FACTORY_SCHEMA),
        gateways=pl.DataFrame(gateways, schema=GATEWAY_SCHEMA),
        passwords=pl.Series(PASSWORD, [SEED_PASSWORD] * len(gateways), dtype=pl.String),
        scenario={"name": "default"},
    )


def from_spec(spec: FleetSpec) -> Fleet:
    """The original seed's fleet for a spec whose source is "acme" (its seed and as_of), with the marker's record."""
    given, spec = spec.as_of is not None, spec.at()
    fleet = acme_fleet(spec.as_of, spec.seed)
    fleet.scenario = scenario_record(spec, as_of_given=given)
    return fleet
