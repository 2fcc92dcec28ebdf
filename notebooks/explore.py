import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="fleetlab explore")


@app.cell
def _():
    import marimo as mo

    return (mo,)


@app.cell
def _():
    from fleetlab.app import charts
    from fleetlab.app import notebook as fnb
    from fleetlab.read import inspect as fleet
    from fleetlab.read.engine import engine

    return charts, engine, fleet, fnb


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # Explore the fleet

    The workbench database (`DATABASE_URL`, or the embedded server in `FLEETLAB_HOME`) as polars
    frames and charts. Reset it first with `uv run fleetlab reset` or `notebooks/reset.py`.
    """)
    return


@app.cell
def _(fleet):
    context = fleet.fleet_context()
    return (context,)


@app.cell(hide_code=True)
def _(context, fnb, mo):
    mo.md(fnb.describe(context))
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Organizations
    """)
    return


@app.cell
def _(fleet):
    summary = fleet.fleet_summary()
    summary
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Factories
    """)
    return


@app.cell
def _(fleet):
    per_factory = fleet.gateways_per_factory()
    per_factory
    return (per_factory,)


@app.cell
def _(charts, per_factory):
    charts.gateways_per_factory(per_factory)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## When were the gateways last seen?
    """)
    return


@app.cell
def _(charts, context, fleet):
    ages = charts.age_buckets(fleet.last_seen(), context["clock"].as_of)
    charts.last_seen_ages(ages, context["clock"].as_of)
    return


@app.cell
def _(fleet):
    fleet.stale_gateways(include_never_seen=True).drop("id", "factory_id", "organization_id")
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Models and firmware
    """)
    return


@app.cell
def _(charts, fleet):
    charts.mix(fleet.model_distribution(), "model", "Gateway models")
    return


@app.cell
def _(charts, fleet):
    charts.mix(fleet.firmware_distribution(), "firmware_version", "Firmware versions")
    return


@app.cell
def _(fleet):
    fleet.firmware_distribution(by_model=True)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## One factory's gateways
    """)
    return


@app.cell
def _(fnb, mo, per_factory):
    _options = fnb.factory_options(per_factory)
    factory = mo.ui.dropdown(options=_options, value=next(iter(_options), None), label="Factory", searchable=True)
    factory
    return (factory,)


@app.cell
def _(factory, fleet, mo):
    mo.stop(factory.value is None, mo.md("No factory in this fleet."))
    fleet.factory_gateways(factory.value)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Soft-deleted rows
    """)
    return


@app.cell
def _(fleet):
    fleet.deleted_rows()
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Your own SQL

    A SQL cell on the workbench database: edit the query and run it.
    """)
    return


@app.cell
def _(engine):
    workbench = engine()
    return (workbench,)


@app.cell
def _(mo, workbench):
    _df = mo.sql(
        """
        SELECT o.name AS organization, count(*) AS gateways,
               count(*) FILTER (WHERE g.last_seen_at IS NULL) AS never_seen
        FROM gateways g
        JOIN factories f ON f.id = g.factory_id
        JOIN organizations o ON o.id = f.organization_id
        WHERE g.deleted_at IS NULL
        GROUP BY o.name
        ORDER BY gateways DESC, organization
        """,
        engine=workbench,
    )
    return


if __name__ == "__main__":
    app.run()
