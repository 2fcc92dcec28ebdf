"""The fleet specification: forms it accepts, and every bad input reported at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleetlab.errors import SpecError
from fleetlab.model.counts import Count, parse_count
from fleetlab.model.spec import FleetSpec


def problems_of(fn) -> list[str]:
    with pytest.raises(SpecError) as info:
        fn()
    assert info.value.exit_code == 2
    return info.value.problems


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (7, Count.fixed(7)),
        ("7", Count.fixed(7)),
        ("3-8", Count.uniform(3, 8)),
        (" 3 - 8 ", Count.uniform(3, 8)),
        ({"min": 2, "max": 4}, Count.uniform(2, 4)),
        ({"distribution": "poisson", "mean": 4.5}, Count.poisson(4.5)),
        ({"poisson": 3}, Count.poisson(3)),
        ("poisson(4.5)", Count.poisson(4.5)),
        ({"distribution": "fixed", "n": 0}, Count.fixed(0)),
    ],
)
def test_count_forms(raw, expected):
    problems: list[str] = []
    assert parse_count(raw, "x", problems) == expected
    assert problems == []


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (-1, "must not be negative"),
        ("-3", "must not be negative"),
        ("abc", "not a number"),
        ("", "empty range"),
        ("5-", "empty range"),
        ("-", "empty range"),
        ("8-3", "inverted range"),
        (2.5, "whole number"),
        (True, "expected a count"),
        ({"distribution": "poisson", "mean": -1}, "must not be negative"),
        ({"distribution": "zipf"}, "unknown distribution"),
    ],
)
def test_bad_counts(raw, fragment):
    problems: list[str] = []
    assert parse_count(raw, "x", problems) is None
    assert len(problems) == 1 and fragment in problems[0], problems


def test_mapping_round_trip():
    spec = FleetSpec.from_mapping(
        {
            "seed": 5,
            "as_of": "2026-01-01T00:00:00Z",
            "locales": {"en_US": 2, "de_DE": 1},
            "counts": {"organizations": 2, "factories_per_organization": "1-3", "gateways_per_factory": {"poisson": 4}},
            "fractions": {"online": 0.5, "stale": 0.2, "never_seen": 0.1},
            "mix": {"models": {"A": 1, "B": 3}, "firmware": {"1.0": 1}},
        }
    )
    assert spec.as_of == datetime(2026, 1, 1, tzinfo=UTC)
    assert spec.factories_per_organization == Count.uniform(1, 3)
    assert FleetSpec.from_mapping(spec.to_dict()) == spec


def test_spec_is_frozen():
    with pytest.raises(AttributeError):
        FleetSpec().seed = 3  # type: ignore[misc]


def test_every_problem_of_a_mapping_at_once():
    problems = problems_of(
        lambda: FleetSpec.from_mapping(
            {
                "colour": "blue",
                "as_of": "next tuesday",
                "locales": ["en_US", "xx_XX"],
                "counts": {"organizations": -2, "factories_per_organization": "9-1", "gateways": 3},
                "fractions": {"online": 1.5, "deleted_gateways": -0.1},
            }
        )
    )
    text = "\n".join(problems)
    for fragment in [
        "unknown key 'colour'",
        "next tuesday",
        "unknown locale 'xx_XX'",
        "counts.organizations: counts must not be negative",
        "inverted range 9-1",
        "unknown key counts.gateways",
        "fractions.online must be a number between 0 and 1",
        "fractions.deleted_gateways must be a number between 0 and 1",
    ]:
        assert fragment in text, text
    assert len(problems) == 8


def test_fractions_summing_above_one():
    problems = problems_of(lambda: FleetSpec(online=0.7, stale=0.3, never_seen=0.2))
    assert len(problems) == 1 and "sum to 1.2" in problems[0]
    FleetSpec(online=0.7, stale=0.2, never_seen=0.1)  # exactly 1 is fine


def test_overrides_report_every_bad_flag():
    flags = {
        "organizations": "--orgs",
        "gateways_per_factory": "--gateways-per-factory",
        "as_of": "--as-of",
        "seed": "--seed",
        "locale": "--locale",
        "factories_per_organization": "--factories-per-org",
    }
    problems = problems_of(
        lambda: FleetSpec().override(
            organizations="-1",
            factories_per_organization="",
            gateways_per_factory="ten",
            seed="-4",
            as_of="2026-13-45",
            locale="klingon",
            flags=flags,
        )
    )
    assert [p.split(":")[0] for p in problems] == [
        "--orgs",
        "--factories-per-org",
        "--gateways-per-factory",
        "--seed",
        "--as-of",
        "--locale",
    ]


def test_overrides_apply():
    spec = FleetSpec().override(
        organizations="5",
        gateways_per_factory="10-20",
        seed="42",
        as_of="2026-01-01T00:00:00+02:00",
        locale="de_DE, ja_JP",
    )
    assert spec.organizations == Count.fixed(5)
    assert spec.gateways_per_factory == Count.uniform(10, 20)
    assert spec.seed == 42
    assert spec.as_of == datetime(2025, 12, 31, 22, tzinfo=UTC)
    assert spec.locales == (("de_DE", 1.0), ("ja_JP", 1.0))


def test_weighted_lists_are_in_name_order():
    a = FleetSpec.from_mapping({"locales": {"ja_JP": 1, "de_DE": 2}, "mix": {"models": {"b": 1, "a": 2}}})
    b = FleetSpec.from_mapping({"locales": {"de_DE": 2, "ja_JP": 1}, "mix": {"models": {"a": 2, "b": 1}}})
    assert a == b and a.models == (("a", 2.0), ("b", 1.0))


def test_count_override_turns_acme_into_generated():
    acme = FleetSpec(source="acme")
    assert acme.override(seed="3").source == "acme"
    assert acme.override(organizations="2").source == "generated"


def test_as_of_needs_a_time_zone():
    # a time without a zone is ambiguous by hours: refused, with how to write one
    for naive in ("2026-01-01T00:00:00", "2026-01-01", datetime(2026, 1, 1)):
        (problem,) = problems_of(lambda naive=naive: FleetSpec().override(as_of=naive))
        assert "has no time zone; add Z" in problem
    assert FleetSpec().override(as_of="2026-01-01T02:00:00+02:00").as_of == datetime(2026, 1, 1, tzinfo=UTC)


def test_counts_take_ascii_digits_only():
    # int() reads Arabic-Indic, Devanagari, fullwidth digits too: a count must be plain 0-9
    for text in ("٣", "३", "３", "1-٣", "१०"):
        (problem,) = problems_of(lambda text=text: FleetSpec().override(organizations=text))
        assert "is not a number" in problem or "empty range" in problem, problem
    (problem,) = problems_of(lambda: FleetSpec().override(seed="٣"))
    assert "seed must be a whole number" in problem


def test_weights_that_overflow_are_refused():
    problems = problems_of(lambda: FleetSpec.from_mapping({"mix": {"models": {"a": 1e308, "b": 1e308}}}))
    assert len(problems) == 1 and "add up to more than a number can hold" in problems[0]
    problems = problems_of(lambda: FleetSpec.from_mapping({"locales": {"en_US": 1e308, "de_DE": 1e308}}))
    assert any("add up to more than a number can hold" in p for p in problems), problems


def test_a_total_far_beyond_a_workbench_is_refused():
    (problem,) = problems_of(
        lambda: FleetSpec().override(
            organizations="10000", factories_per_organization="1000", gateways_per_factory="10000000"
        )
    )
    assert "gateways in total" in problem and "1,000,000,000" in problem
    FleetSpec().override(organizations="100", factories_per_organization="100", gateways_per_factory="1000")


def test_too_many_factories_is_refused_before_generating():
    problems = problems_of(lambda: FleetSpec().override(organizations="100000", factories_per_organization="1000"))
    assert len(problems) == 1 and "factories in total" in problems[0]


def test_the_shipped_locale_list_is_fakers_own():
    """faker_locales.json (what a spec is checked against without importing Faker) matches the installed
    Faker: after an upgrade, `uv run python scripts/faker_locales.py` writes it again."""
    import json

    from faker_locales import PATH, table

    from fleetlab.model.values import shipped_locales

    assert json.loads(PATH.read_text(encoding="utf-8")) == table()
    assert shipped_locales() == table()["locales"]


def test_a_locale_the_shipped_list_lacks_is_looked_up_in_faker(monkeypatch):
    """A newer Faker may know locales the shipped list does not: they are checked against Faker itself."""
    from fleetlab.model import values

    monkeypatch.setattr(values, "shipped_locales", lambda: {"en_US": ["America/New_York"]})
    assert FleetSpec.from_mapping({"locales": "de_DE"}).locales == (("de_DE", 1.0),)
    with pytest.raises(SpecError, match="unknown locale 'xx_YY'"):
        FleetSpec.from_mapping({"locales": "xx_YY"})
