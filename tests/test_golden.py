"""Golden content digests: every preset generates exactly what tests/fixtures/golden_digests.json recorded
(`scripts/record_digests.py` says how, and re-records on purpose), and one changed value fails naming the
preset, the table and the column."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import polars as pl
import pytest
import record_digests as golden

from fleetlab.model.fleet import PASSWORD
from fleetlab.model.scenarios import list_scenarios


def recorded_as(preset: str, fleet) -> dict:
    """A fixture holding `fleet`'s digests for `preset`, as the command writes it."""
    tables = golden.fleet_digests(fleet)
    return {"recorded_with": golden.libraries(), "presets": {preset: {"overrides": {}, "tables": tables}}}


def changed(frame: pl.DataFrame, column: str, row: int, value) -> pl.DataFrame:
    """`frame` with one value replaced."""
    at = pl.int_range(pl.len()) == row
    return frame.with_columns(
        pl.when(at).then(pl.lit(value, frame.schema[column])).otherwise(pl.col(column)).alias(column)
    )


def with_rows(fleet, rows: pl.DataFrame):
    """`fleet` with other gateway rows (`rows`: the gateways with their plaintext PASSWORD column)."""
    return replace(fleet, gateways=rows.drop(PASSWORD), passwords=rows[PASSWORD])


def test_every_preset_has_recorded_digests_and_no_other():
    recorded, presets = set(golden.load()["presets"]), set(list_scenarios())
    assert recorded == presets, (
        f"presets without recorded digests: {sorted(presets - recorded)}; recorded but gone: "
        f"{sorted(recorded - presets)}. Re-record with `{golden.COMMAND}`"
    )


@pytest.mark.parametrize("preset", list(list_scenarios()))
def test_each_preset_generates_the_recorded_rows(preset):
    problems = golden.differences(preset, golden.load(), golden.fleet_digests(golden.fleet_of(preset)))
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def stale_fleet():
    return golden.fleet_of("stale-fleet")


@pytest.mark.parametrize(
    ("table", "column", "row", "value"),
    [
        ("organizations", "name", 1, "Carter Group 3"),
        ("factories", "timezone", 4, "Europe/Paris"),
        ("gateways", "last_seen_at", 17, None),
        ("gateways", "metadata", 400, "{}"),
    ],
)
def test_one_changed_value_fails_naming_the_preset_the_table_and_the_column(stale_fleet, table, column, row, value):
    recorded = recorded_as("stale-fleet", stale_fleet)
    assert golden.differences("stale-fleet", recorded, golden.fleet_digests(stale_fleet)) == []
    frame = stale_fleet.frames()[table]
    assert frame[column][row] != value
    perturbed = replace(stale_fleet, **{table: changed(frame, column, row, value)})
    [problem] = golden.differences("stale-fleet", recorded, golden.fleet_digests(perturbed))
    assert problem.startswith(f"preset 'stale-fleet', table '{table}': the generated data changed: column(s) {column};")
    assert golden.COMMAND in problem and "polars" in problem


def test_a_microsecond_a_swapped_row_a_lost_row_or_another_password_fail_too(stale_fleet):
    recorded = recorded_as("stale-fleet", stale_fleet)
    gateways = stale_fleet.gateways.with_columns(stale_fleet.passwords)
    later = gateways["created_at"][3] + timedelta(microseconds=1)
    frames = [
        changed(gateways, "created_at", 3, later),
        pl.concat([gateways[1:2], gateways[0:1], gateways[2:]]),  # the first two rows swapped
        gateways.head(-1),
    ]
    problems = [
        golden.differences("stale-fleet", recorded, golden.fleet_digests(with_rows(stale_fleet, frame)))
        for frame in frames
    ]
    assert [len(p) for p in problems] == [1, 2, 2]  # a swapped or lost row moves or loses its password too
    assert "column(s) created_at;" in problems[0][0] and "433 rows as recorded" in problems[0][0]
    assert problems[1][0].startswith("preset 'stale-fleet', table 'gateways'") and ", id," in problems[1][0]
    assert "433 rows recorded, 432 now" in problems[2][0] and "'gateways'" in problems[2][0]
    acme = golden.fleet_of("default")
    other = acme.passwords.str.replace("admin123", "admin124")
    [problem] = golden.differences(
        "default", recorded_as("default", acme), golden.fleet_digests(replace(acme, passwords=other))
    )
    assert problem.startswith("preset 'default', table 'gateway_passwords'") and "admin12" not in problem


def test_a_preset_recorded_with_other_overrides_or_not_at_all_says_to_re_record(stale_fleet):
    digests = golden.fleet_digests(stale_fleet)
    assert golden.differences("nowhere", {"presets": {}}, digests) == [
        f"preset 'nowhere' has no recorded digests: record them with `{golden.COMMAND}`"
    ]
    recorded = recorded_as("large", stale_fleet)  # recorded without large's organization count
    [problem] = golden.differences("large", recorded, digests)
    assert "overrides {}" in problem and golden.COMMAND in problem


def test_the_canonical_text_keeps_types_and_instants_apart():
    text = golden.column_text
    assert len({text([None]), text([""]), text(["null"]), text([0]), text([0.0]), text([False]), text(["0"])}) == 7
    instant = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert text([instant]) == '[{"utc_us":1767268800000000}]'
    assert text([instant]) == text([instant.astimezone(timezone(timedelta(hours=9)))])  # one instant, any zone
    assert text([instant]) != text([instant + timedelta(microseconds=1)])
    assert text([instant]) != text([instant.replace(tzinfo=None)])
    assert text(["a\nb", None]) != text(["a", "b"])  # a value's newline cannot pose as a row break
    assert text([{"b": 1, "a": 2.5}]) == '[{"a":2.5,"b":1}]'
    with pytest.raises(TypeError, match="record_digests.py"):
        text([object()])
