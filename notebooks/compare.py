import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="fleetlab compare")


@app.cell
def _():
    import marimo as mo

    return (mo,)


@app.cell
def _():
    from fleetlab.app import charts, compare, twin_view
    from fleetlab.app import notebook as fnb

    return charts, compare, fnb, twin_view


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


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # A source and its synthetic twin

    `fleetlab profile SOURCE_URL --output twin.toml` reads a platform database's aggregates (read only, no
    row copied) and writes the scenario of its twin; `fleetlab reset --scenario twin.toml` makes it. Give
    the source's URL below (and the twin's, else the workbench's own database is the twin): both are read
    the same way, and every distribution is compared with its distance.
    """)
    return


@app.cell
def _(mo):
    twin_form = (
        mo.md(
            """
            {source} {twin}

            {as_of} {scale}
            """
        )
        .batch(
            source=mo.ui.text(kind="password", label="Source URL", full_width=True),
            twin=mo.ui.text(kind="password", label="Twin URL (empty: the workbench)", full_width=True),
            as_of=mo.ui.text(label="as_of (empty: the twin's)", placeholder="2026-06-01T12:00:00Z"),
            scale=mo.ui.number(start=0.001, stop=1_000_000, value=1, label="scale"),
        )
        .form(submit_button_label="Compare", bordered=False)
    )
    twin_form
    return (twin_form,)


@app.cell
def _(fnb, mo, twin_form, twin_view):
    _given = twin_form.value or {}
    pair = None
    if (_given.get("source") or "").strip():
        pair = fnb.stop_on_error(
            lambda: twin_view.survey_pair(
                _given["source"], _given.get("twin") or "", _given.get("as_of") or "", _given["scale"]
            ),
            "Could not read both databases",
        )
    mo.md(
        "No source yet. To make one and its twin: `fleetlab profile SOURCE_URL --as-of T --output twin.toml`, "
        "then `fleetlab reset --scenario twin.toml --yes`; give SOURCE_URL above."
    ) if pair is None else None
    return (pair,)


@app.cell
def _(mo, pair, twin_view):
    None if pair is None else mo.vstack(
        [
            mo.md(f"**Source** {pair.source_where} · **twin** {pair.twin_where}"),
            mo.md(twin_view.verdict(pair)),
            mo.ui.table(twin_view.distance_frame(pair), page_size=40, selection=None),
            mo.md(twin_view.other_note()),
        ]
    )
    return


@app.cell
def _(charts, mo, pair, twin_view):
    None if pair is None else mo.vstack(
        [
            twin_view.tenant_chart(twin_view.tenants(pair)),
            *(
                charts.compared(twin_view.shares(pair, what), title, of=of)
                for what, title, of in [
                    ("status", "Connectivity status", "active gateways"),
                    ("model / firmware", "Model and firmware, together", "active gateways"),
                    ("time zone", "Factories' time zones", "active factories"),
                    ("URL scheme", "URL schemes", "active gateways"),
                ]
            ),
            *(
                charts.compared(
                    twin_view.silence(pair, status),
                    f"Silent for, among {status} gateways",
                    top=30,
                    of=f"{status} gateways",
                    order=twin_view.silence_order(),
                )
                for status in ("online", "recent", "stale")
            ),
        ]
    )
    return


if __name__ == "__main__":
    app.run()
