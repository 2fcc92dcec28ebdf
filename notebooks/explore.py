import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="fleetlab explore")


@app.cell
def _():
    import marimo as mo

    return (mo,)


@app.cell
def _():
    from fleetlab.app import charts, maps
    from fleetlab.app import explore as fnb
    from fleetlab.app import notebook as nav
    from fleetlab.read import inspect as fleet
    from fleetlab.read import sites
    from fleetlab.read.engine import engine

    return charts, engine, fleet, fnb, maps, nav, sites


@app.cell(hide_code=True)
def _(nav):
    nav.navigation("explore.py")
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # Explore the fleet

    The workbench database (`DATABASE_URL`, or the embedded server in `FLEETLAB_HOME`) as polars
    frames and charts. Reset it first with `uv run fleetlab reset` or `notebooks/reset.py`.
    """)
    return


@app.cell
def _(fnb):
    context = fnb.workbench()
    return (context,)


@app.cell(hide_code=True)
def _(context, fnb, mo):
    mo.md(fnb.describe(context))
    return


@app.cell
def _(context, fleet, fnb, mo):
    filters = fnb.filters(
        fleet.fleet_summary(url=context["url"]), fleet.firmware_distribution(url=context["url"], by_model=True)
    )
    mo.vstack(
        [
            mo.md(
                "Narrow every table and chart below to some organizations, models, firmware versions or "
                "statuses (none chosen: the whole fleet)."
            ),
            filters.hstack(widths="equal"),
        ]
    )
    return (filters,)


@app.cell
def _(filters, fnb):
    where = fnb.where(filters)
    return (where,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Organizations
    """)
    return


@app.cell
def _(context, fleet, fnb, where):
    summary = fleet.fleet_summary(url=context["url"], where=where)
    organizations = fnb.organizations_table(summary)
    organizations
    return organizations, summary


@app.cell
def _(charts, summary):
    charts.organization_health(summary)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Where the factories are

    Click a site to list only its factories below (shift-click to add sites, click the background to
    clear).
    """)
    return


@app.cell
def _(context, fleet, fnb, organizations, where):
    per_factory = fnb.of_organizations(fleet.gateways_per_factory(url=context["url"], where=where), organizations.value)
    return (per_factory,)


@app.cell
def _(maps, mo, per_factory, sites):
    site_frame = sites.sites(per_factory)
    site_map = mo.ui.altair_chart(
        maps.site_map(site_frame, unplaced=sites.unplaced(per_factory)),
        chart_selection=False,
        legend_selection=False,
    )
    site_map
    return site_frame, site_map


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Factories
    """)
    return


@app.cell
def _(fnb, per_factory, site_frame, site_map, sites):
    at_sites = sites.at(per_factory, site_map.apply_selection(site_frame))
    factories = fnb.factories_table(at_sites)
    factories
    return at_sites, factories


@app.cell
def _(at_sites, charts):
    charts.gateways_per_factory(at_sites)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## One factory's gateways
    """)
    return


@app.cell
def _(at_sites, context, factories, fleet, fnb, mo):
    chosen = fnb.chosen_factory(at_sites, factories.value)
    mo.stop(chosen is None, mo.md("No factory in this fleet."))
    mo.vstack(
        [
            mo.md(f"**{chosen['label']}** (select another factory in the table above)"),
            fnb.readable(fleet.factory_gateways(chosen["id"], url=context["url"])),
        ]
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## When were the gateways last seen?
    """)
    return


@app.cell
def _(charts, context, fleet, where):
    ages = charts.age_buckets(fleet.last_seen_ages(charts.AGE_BOUNDS, url=context["url"], where=where))
    charts.last_seen_ages(ages, context["clock"].as_of)
    return


@app.cell
def _(charts, context, fleet, where):
    charts.last_seen_timeline(fleet.last_seen_by_day(url=context["url"], where=where), context["clock"].as_of)
    return


@app.cell
def _(context, fleet, fnb, where):
    stale = fleet.stale_gateways(url=context["url"], include_never_seen=True, where=where)
    fnb.silent_table(stale, context["clock"])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Models and firmware
    """)
    return


@app.cell
def _(charts, context, fleet, mo, where):
    mo.hstack(
        [
            charts.mix(fleet.model_distribution(url=context["url"], where=where), "model", "Gateway models"),
            charts.mix(
                fleet.firmware_distribution(url=context["url"], where=where), "firmware_version", "Firmware versions"
            ),
        ],
        justify="start",
        gap=2,
    )
    return


@app.cell
def _(charts, context, fleet, where):
    charts.models_by_firmware(fleet.firmware_distribution(url=context["url"], by_model=True, where=where))
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Soft-deleted rows
    """)
    return


@app.cell
def _(charts, context, fleet):
    charts.deletions_timeline(fleet.deletions_by_month(url=context["url"]))
    return


@app.cell
def _(context, fleet, fnb):
    fnb.readable(fleet.deleted_rows(url=context["url"]))
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Your own SQL

    Any read-only query on the workbench database: edit it below and press **Run query**. Its rows
    are `query_result`, a polars frame later cells can use.
    """)
    return


@app.cell
def _(context, engine):
    workbench = engine(context["url"])
    return (workbench,)


@app.cell
def _(fnb, mo):
    query = mo.ui.code_editor(value=fnb.ORGANIZATIONS_SQL, language="sql", min_height=160).form(
        submit_button_label="Run query", bordered=False
    )
    query
    return (query,)


@app.cell
def _(fnb, mo, query, workbench):
    query_result = mo.sql(query.value or fnb.ORGANIZATIONS_SQL, engine=workbench)
    query_result
    return (query_result,)


if __name__ == "__main__":
    app.run()
