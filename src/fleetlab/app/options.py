"""The fleet options: one table from which `fleetlab reset`'s flags and the reset notebook's form are built.

Each option names a `FleetSpec.override` value (`fleetlab.model.spec.OVERRIDES`), the flag that
gives it on the command line, and the label and placeholder of its field in the notebook's form.
A scenario (`--scenario`, the form's dropdown) gives every value; an option given replaces it.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SpecError
from ..model.spec import FleetSpec


@dataclass(frozen=True)
class Option:
    name: str  # FleetSpec.override's name for it
    flag: str
    label: str
    placeholder: str
    metavar: str
    help: str

    @property
    def dest(self) -> str:
        """The attribute argparse stores it under (and marimo's `cli_args()` key, with dashes)."""
        return self.flag.removeprefix("--").replace("-", "_")


OPTIONS = (
    Option("organizations", "--orgs", "Organizations", "N or MIN-MAX", "N", "organizations (a number, or MIN-MAX)"),
    Option(
        "factories_per_organization",
        "--factories-per-org",
        "Factories per organization",
        "N or MIN-MAX",
        "N|MIN-MAX",
        "factories per organization",
    ),
    Option(
        "gateways_per_factory",
        "--gateways-per-factory",
        "Gateways per factory",
        "N or MIN-MAX",
        "N|MIN-MAX",
        "gateways per factory",
    ),
    Option("seed", "--seed", "Seed", "0", "N", "seed of the keyed generator (same seed, same rows)"),
    Option(
        "locale",
        "--locale",
        "Locale(s)",
        "en_US or en_US,de_DE",
        "L[,L...]",
        "Faker locale(s), e.g. de_DE or en_US,ja_JP",
    ),
    Option(
        "as_of",
        "--as-of",
        "As of",
        "now, or 2026-01-01T00:00:00Z",
        "ISO-8601",
        "reference time for last_seen_at and deleted_at (default: now)",
    ),
)
FLAGS = {o.name: o.flag for o in OPTIONS}  # how messages name a value
DEFAULT_SCENARIO = "default"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--scenario` and one flag per option."""
    g = parser.add_argument_group("fleet", "what to load: a scenario, with fields overridden by these flags")
    g.add_argument(
        "--scenario",
        default=None,
        metavar="NAME|PATH",
        help="a preset (see `fleetlab scenarios`) or a TOML file (default: default)",
    )
    for o in OPTIONS:
        g.add_argument(o.flag, dest=o.dest, default=None, metavar=o.metavar, help=o.help)


def given(args: argparse.Namespace) -> dict[str, Any]:
    """The options `args` gives, by name (None for those not given)."""
    return {o.name: getattr(args, o.dest, None) for o in OPTIONS}


def fleet_for(args: argparse.Namespace, shard: tuple[int, int] | None = None):
    """The fleet the flags ask for (gateways generated while loading), or its `shard` (K, N).

    Raises one SpecError listing every problem.
    """
    from ..generation.fleets import plan

    return plan(spec_for(args.scenario, given(args)), shard)


def spec_for(scenario: str | None, values: Mapping[str, Any]) -> FleetSpec:
    """The scenario's spec with the given `values` (by option name; None leaves a field, "" is an error).

    Raises one SpecError listing every problem, of the scenario and of the values alike.
    """
    from ..model.scenarios import load_scenario

    problems: list[str] = []
    try:
        spec = load_scenario(DEFAULT_SCENARIO if scenario is None else scenario)  # "" is an error
    except SpecError as exc:
        problems += exc.problems
        spec = FleetSpec()
    try:
        spec = spec.override(flags=FLAGS, **values)
    except SpecError as exc:
        problems += exc.problems
    if problems:
        raise SpecError(problems)
    return spec


def as_text(spec: FleetSpec) -> dict[str, str]:
    """The spec's own value of each option, as the text its flag would take ('' when unset)."""
    return {
        "organizations": str(spec.organizations),
        "factories_per_organization": str(spec.factories_per_organization),
        "gateways_per_factory": str(spec.gateways_per_factory),
        "seed": str(spec.seed),
        "locale": ",".join(loc for loc, _ in spec.locales),
        "as_of": spec.as_of.isoformat().replace("+00:00", "Z") if spec.as_of is not None else "",
    }


def changed(scenario: str | None, values: Mapping[str, Any]) -> dict[str, str]:
    """The values (by option name) that differ from the scenario's own, stripped.

    A form shows every field filled in; passing an unchanged count on would turn the hand-written
    default fleet into a generated one.
    """
    from ..model.scenarios import load_scenario

    try:
        own = as_text(load_scenario(scenario or DEFAULT_SCENARIO))
    except SpecError:
        own = {}
    out = {}
    for o in OPTIONS:
        value = "" if values.get(o.name) is None else str(values[o.name]).strip()
        if value and value != own.get(o.name, ""):
            out[o.name] = value
    return out


def command_line(scenario: str | None, values: Mapping[str, Any]) -> list[str]:
    """The `fleetlab reset` arguments that ask for the same fleet (values by option name)."""
    words = ["--scenario", scenario or DEFAULT_SCENARIO]
    for o in OPTIONS:
        value = values.get(o.name)
        if value is not None and str(value).strip():
            words += [o.flag, str(value).strip()]
    return words
