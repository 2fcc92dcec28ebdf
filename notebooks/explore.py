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
    from fleetlab.read import sites

    return charts, fnb, maps, nav, sites


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
    db = fnb.workbench()
    return (db,)


@app.cell(hide_code=True)
def _(db, fnb, mo):
    mo.md(fnb.describe(db))
    return


@app.cell
def _(db, fnb, mo):
    filters = fnb.filters(db.fleet_summary(), db.firmware_distribution(by_model=True))
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
def _(db, fnb, where):
    summary = db.fleet_summary(where=where)
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
def _(db, fnb, organizations, where):
    per_factory = fnb.of_organizations(db.gateways_per_factory(where=where), organizations.value)
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
def _(at_sites, db, factories, fnb, mo):
    chosen = fnb.chosen_factory(at_sites, factories.value)
    mo.stop(chosen is None, mo.md("No factory in this fleet."))
    mo.vstack(
        [
            mo.md(f"**{chosen['label']}** (select another factory in the table above)"),
            fnb.readable(db.factory_gateways(chosen["id"])),
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
def _(charts, db, where):
    ages = charts.age_buckets(db.last_seen_ages(charts.AGE_BOUNDS, where=where))
    charts.last_seen_ages(ages, db.clock.as_of)
    return


@app.cell
def _(charts, db, where):
    charts.last_seen_timeline(db.last_seen_by_day(where=where), db.clock.as_of)
    return


@app.cell
def _(db, fnb, where):
    stale = db.stale_gateways(include_never_seen=True, where=where)
    fnb.silent_table(stale, db.clock)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Models and firmware
    """)
    return


@app.cell
def _(charts, db, mo, where):
    mo.hstack(
        [
            charts.mix(db.model_distribution(where=where), "model", "Gateway models"),
            charts.mix(db.firmware_distribution(where=where), "firmware_version", "Firmware versions"),
        ],
        justify="start",
        gap=2,
    )
    return


@app.cell
def _(charts, db, where):
    charts.models_by_firmware(db.firmware_distribution(by_model=True, where=where))
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Soft-deleted rows
    """)
    return


@app.cell
def _(charts, db):
    charts.deletions_timeline(db.deletions_by_month())
    return


@app.cell
def _(db, fnb):
    fnb.readable(db.deleted_rows())
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
def _(db):
    sql_engine = db.engine()
    return (sql_engine,)


@app.cell
def _(fnb, mo):
    query = mo.ui.code_editor(value=fnb.ORGANIZATIONS_SQL, language="sql", min_height=160).form(
        submit_button_label="Run query", bordered=False
    )
    query
    return (query,)


@app.cell
def _(fnb, mo, query, sql_engine):
    query_result = mo.sql(query.value or fnb.ORGANIZATIONS_SQL, engine=sql_engine)
    query_result
    return (query_result,)


if __name__ == "__main__":
    app.run()
