import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="fleetlab compare")


@app.cell
def _():
    import marimo as mo

    return (mo,)


@app.cell
def _():
    from fleetlab.app import charts, compare
    from fleetlab.app import notebook as fnb

    return charts, compare, fnb


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # Compare two scenarios

    Two scenarios side by side, generated in memory: nothing is written to any database.
    Load the one you want with `notebooks/reset.py` or `fleetlab reset --scenario NAME`.
    """)
    return


@app.cell
def _(fnb):
    # an --as-of flag fixes "now" for both fleets (the snapshot uses one)
    as_of = fnb.fleet_args(prog="notebooks/compare.py").as_of
    return (as_of,)


@app.cell
def _(fnb, mo):
    left = mo.ui.dropdown(options=list(fnb.scenario_names()), value="default", label="Left")
    return (left,)


@app.cell
def _(fnb, mo):
    right = mo.ui.dropdown(options=list(fnb.scenario_names()), value="multi-tenant", label="Right")
    return (right,)


@app.cell(hide_code=True)
def _(fnb, left, mo, right):
    _names = fnb.scenario_names()
    mo.hstack(
        [mo.vstack([left, mo.md(_names[left.value])]), mo.vstack([right, mo.md(_names[right.value])])],
        widths="equal",
    )
    return


@app.cell
def _(as_of, compare, left, right):
    fleets = {
        f"left: {left.value}": compare.scenario_fleet(left.value, as_of),
        f"right: {right.value}": compare.scenario_fleet(right.value, as_of),
    }
    return (fleets,)


@app.cell
def _(compare, fleets):
    compare.compare_counts(fleets)
    return


@app.cell
def _(compare, fleets):
    samples = {label: compare.sample_gateways(fleet) for label, fleet in fleets.items()}
    return (samples,)


@app.cell
def _(charts, compare, mo, samples):
    mo.hstack(
        [charts.mix(compare.mix_of(g, "model"), "model", f"Models, {label}") for label, g in samples.items()],
        widths="equal",
    )
    return


@app.cell
def _(charts, compare, mo, samples):
    mo.hstack(
        [
            charts.mix(compare.mix_of(g, "firmware_version"), "firmware_version", f"Firmware, {label}")
            for label, g in samples.items()
        ],
        widths="equal",
    )
    return


if __name__ == "__main__":
    app.run()
