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
def _(fnb):
    fnb.navigation("compare.py")
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # Compare two scenarios

    Two scenarios side by side, generated in memory and counted whole: nothing is written to any
    database. Load the one you want with `notebooks/reset.py` or `fleetlab reset --scenario NAME`.
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
def _(as_of, compare, fleets):
    # every gateway counted: exact figures, not a sample (a million gateways take about two seconds)
    figures = {label: compare.aggregates(fleet, as_of) for label, fleet in fleets.items()}
    return (figures,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Sizes and soft deletes

    Rows per table; *active* rows are those neither soft-deleted themselves nor under a soft-deleted
    parent.
    """)
    return


@app.cell
def _(compare, figures):
    compare.sizes(figures)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Status, models, firmware, locales

    Shares of each fleet's active gateways, on one scale, so bars of the two fleets compare directly.
    """)
    return


@app.cell
def _(charts, compare, figures, mo):
    mo.vstack(
        [
            charts.compared(compare.side_by_side(figures, dimension), title)
            for dimension, title in [
                ("status", "Connectivity status"),
                ("model", "Gateway models"),
                ("firmware_version", "Firmware versions"),
                ("locale", "Locale of the organization"),
            ]
        ]
    )
    return


if __name__ == "__main__":
    app.run()
