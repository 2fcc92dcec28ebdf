"""The original seed: Acme Manufacturing, three plants, two gateways each.

The values are those of the original TypeScript seed, with real locations and IANA time
zones, and `last_seen_at` spread relative to `as_of` so the fleet shows online, recently
seen and silent gateways.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import polars as pl

from .fleet import FACTORY_SCHEMA, GATEWAY_SCHEMA, ORGANIZATION_SCHEMA, Fleet
from .keyed import keyed_uuid
from .spec import FleetSpec, scenario_record

ORGANIZATION = {
    "name": "Acme Manufacturing",
    "metadata": {
        "industry": "automotive components",
        "plan": "enterprise",
        "headquarters": "Chicago, IL, USA",
        "contact_email": "ops@acme-manufacturing.com",
    },
}

FACTORIES = [
    {
        "name": "Springfield Plant",
        "location": "2200 S Dirksen Pkwy, Springfield, IL 62703, USA",
        "timezone": "America/Chicago",
        "metadata": {"code": "SPR", "lines": 4, "shifts": 3, "area_m2": 18500, "iso50001": True},
    },
    {
        "name": "Detroit Assembly",
        "location": "1500 E Jefferson Ave, Detroit, MI 48207, USA",
        "timezone": "America/Detroit",
        "metadata": {"code": "DET", "lines": 6, "shifts": 3, "area_m2": 32000, "iso50001": True},
    },
    {
        "name": "Austin Facility",
        "location": "9600 Great Hills Trail, Austin, TX 78759, USA",
        "timezone": "America/Chicago",
        "metadata": {"code": "AUS", "lines": 2, "shifts": 2, "area_m2": 9400, "iso50001": False},
    },
]

# per factory, two gateways: (suffix, line name, model, firmware, protocol, minutes since last seen)
GATEWAYS = [
    [
        ("001", "Press Line 1", "Siemens SIMATIC IOT2050", "1.3.1", "opc-ua", 0.5),
        ("002", "Paint Shop", "Moxa UC-8210", "2.4.0", "modbus-tcp", 12),
    ],
    [
        ("001", "Body Shop", "Advantech UNO-2271G", "3.1.2", "opc-ua", 1),
        ("002", "Final Assembly", "Siemens SIMATIC IOT2050", "1.3.1", "mqtt", 60 * 26),
    ],
    [
        ("001", "CNC Cell A", "HMS Ewon Flexy 205", "14.6.2", "modbus-tcp", 3),
        ("002", "Packaging", "Moxa UC-8210", "2.3.5", "mqtt", None),
    ],
]


def acme_fleet(as_of: datetime, seed: int = 0) -> Fleet:
    """The original seed's fleet. `as_of` anchors `last_seen_at`; `seed` keys the UUIDs."""
    org_id = keyed_uuid(seed, "org", 0)
    orgs = [
        {
            "id": org_id,
            "name": ORGANIZATION["name"],
            "metadata": json.dumps(ORGANIZATION["metadata"]),
            "deleted_at": None,
        }
    ]
    factories, gateways = [], []
    for f, (factory, devices) in enumerate(zip(FACTORIES, GATEWAYS, strict=True)):
        factory_id = keyed_uuid(seed, "org", 0, "factory", f)
        code = factory["metadata"]["code"]
        factories.append(
            {
                "id": factory_id,
                "organization_id": org_id,
                "name": factory["name"],
                "location": factory["location"],
                "timezone": factory["timezone"],
                "metadata": json.dumps(factory["metadata"]),
                "deleted_at": None,
            }
        )
        for g, (suffix, line, model, firmware, protocol, minutes) in enumerate(devices):
            device = f"GW-{code}-{suffix}"
            host = f"gw-{code.lower()}-{suffix}.acme-manufacturing.com"
            octet = 10 + f * 10 + g
            gateways.append(
                {
                    "id": keyed_uuid(seed, "org", 0, "factory", f, "gateway", g),
                    "factory_id": factory_id,
                    "gateway_id": device,
                    "name": f"{factory['name'].split()[0]} {line} Gateway",
                    "url": f"https://{host}:8443",
                    "email": f"{device.lower()}@acme-manufacturing.com",
                    "model": model,
                    "firmware_version": firmware,
                    "last_seen_at": None if minutes is None else as_of - timedelta(minutes=minutes),
                    "metadata": json.dumps(
                        {
                            "protocol": protocol,
                            "ip": f"10.{f + 1}.{octet}.{20 + g}",
                            "mac": f"00:1b:1b:{f:02x}:{octet:02x}:{g + 1:02x}",
                            "line": line,
                            "tags": [code.lower(), protocol, "production"],
                        }
                    ),
                    "deleted_at": None,
                }
            )
    return Fleet(
        organizations=pl.DataFrame(orgs, schema=ORGANIZATION_SCHEMA),
        factories=pl.DataFrame(factories, schema=FACTORY_SCHEMA),
        gateways=pl.DataFrame(gateways, schema=GATEWAY_SCHEMA),
        seed=seed,
        scenario={"name": "default"},
    )


def from_spec(spec: FleetSpec) -> Fleet:
    """The Acme fleet for a spec whose source is "acme" (its seed and as_of), with the marker's record."""
    spec = spec.at()
    fleet = acme_fleet(spec.as_of, spec.seed)
    fleet.scenario = scenario_record(spec)
    return fleet
