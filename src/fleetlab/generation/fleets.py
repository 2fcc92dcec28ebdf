"""The front door of the build layer: the one place a spec becomes a fleet.

- `plan(spec)`: the fleet ready to load (`fleetlab.model.fleet.Loadable`). The original seed's
  hand-written rows (`source = "acme"`) are a small `Fleet`; a generated fleet is a plan whose
  gateways are made chunk by chunk while they load. numpy and Faker are imported only for a
  generated fleet, which keeps the default reset quick to start.
- `generate(spec)`: the whole fleet as polars frames, without touching a database (a preview).
  With `spec.as_of` unset, "now" is fixed once for the whole fleet.
"""

from __future__ import annotations

from pathlib import Path

from ..model.fleet import Fleet, Loadable
from ..model.spec import FleetSpec


def plan(spec: FleetSpec, shard: tuple[int, int] | None = None, pools: Path | None = None) -> Loadable:
    """The fleet of `spec`, ready to load: the original seed's rows, or a generator plan.

    `shard=(k, n)` gives the k-th of n disjoint parts of it, split by organization (every n-th from the
    k-th, each with its factories and gateways); the n parts together are exactly the whole fleet.
    `pools`: a folder where Faker's pools are kept between runs (the rows are the same)."""
    if spec.source == "acme":
        from .acme import from_spec

        fleet = from_spec(spec)
        return fleet if shard is None else fleet.shard(*shard)
    from .generator import plan as generated

    return generated(spec, shard, pools)


def generate(spec: FleetSpec, shard: tuple[int, int] | None = None) -> Fleet:
    """The fleet of `spec` (or its part `shard=(k, n)`) as polars frames (nothing is written)."""
    return plan(spec, shard).materialize()
