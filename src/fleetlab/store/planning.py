"""The fleet a reset loads, planned only if the reset builds it.

A reset is given a spec, a finished fleet, or a callable making one. A spec's cache key needs only
the spec (`model.spec.scenario_record`), so a reset served by the scenario cache never plans, and never
imports Faker, numpy or polars. When the reset must build, it starts the plan in a thread and creates
and migrates the database meanwhile: the plan's imports and the server's work overlap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..model.spec import FleetSpec, scenario_record

if TYPE_CHECKING:
    from ..model.fleet import Loadable


class Planned:
    """The fleet a reset loads: given finished, or planned from its spec. A spec is planned in a thread
    once the reset knows it must build (the cache key needs only the spec, so a cache hit plans nothing,
    and never imports Faker or polars); the plan runs while this thread creates and migrates the database."""

    def __init__(self, fleet: FleetSpec | Loadable | Callable[[], Loadable], pools: Path | None = None):
        self.pools = pools  # where the plan keeps Faker's pools between runs (`generation.pools`)
        self._built: Loadable | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if isinstance(fleet, FleetSpec):
            self.spec: FleetSpec | None = fleet
            self.scenario = scenario_record(fleet, as_of_given=fleet.as_of is not None)
        else:
            self.spec, self._built = None, fleet() if callable(fleet) else fleet
            self.scenario = self._built.scenario

    def start(self) -> None:
        """Begin planning, if there is a spec to plan and it has not begun."""
        if self._built is None and self._thread is None:
            self._thread = threading.Thread(target=self._plan, name="fleetlab-plan", daemon=True)
            self._thread.start()

    def _plan(self) -> None:
        from ..generation.fleets import plan

        try:
            self._built = plan(self.spec, pools=self.pools)
        except BaseException as exc:  # raised again by `get`, in the reset's own thread
            self._error = exc

    def get(self) -> Loadable:
        """The planned fleet (waiting for the plan); the plan's error, raised here."""
        self.start()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._built is not None
        return self._built
