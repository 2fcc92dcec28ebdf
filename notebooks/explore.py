import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="fleetlab explore")


@app.cell
def _():
    import marimo as mo

    return (mo,)


@app.cell
def _():
    from fleetlab.app import charts, explore, maps
    from fleetlab.app import notebook as fnb
    from fleetlab.read import sites

    return charts, explore, fnb, maps, sites


@app.cell(hide_code=True)
def _(fnb):
    fnb.navigation("explore.py")
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
def _(explore):
    db = explore.workbench()
    return (db,)


@app.cell(hide_code=True)
def _(db, explore, mo):
    mo.md(explore.describe(db))
    return


@app.cell
def _(db, explore, mo):
    filters = explore.filters(db.fleet_summary(), db.firmware_distribution(by_model=True))
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
def _(explore, filters):
    where = explore.where(filters)
    return (where,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Organizations
    """)
    return


@app.cell
def _(db, explore, where):
    summary = db.fleet_summary(where=where)
    organizations = explore.organizations_table(summary)
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
def _(db, explore, organizations, where):
    per_factory = explore.of_organizations(db.gateways_per_factory(where=where), organizations.value)
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
def _(explore, per_factory, site_frame, site_map, sites):
    at_sites = sites.at(per_factory, site_map.apply_selection(site_frame))
    factories = explore.factories_table(at_sites)
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
def _(at_sites, db, explore, factories, mo, where):
    chosen = explore.chosen_factory(at_sites, factories.value)
    mo.stop(chosen is None, mo.md("No factory in this fleet."))
    mo.vstack(
        [
            mo.md(f"**{chosen['label']}** (select another factory in the table above)"),
            explore.readable(db.factory_gateways(chosen["id"], where=where)),
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
    charts.went_silent(db.silent_by_day(where=where), db.clock)
    return


@app.cell
def _(db, explore, where):
    stale = db.stale_gateways(include_never_seen=True, where=where)
    explore.silent_table(stale, db.clock)
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
def _(db, explore):
    explore.readable(db.deleted_rows())
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Your own SQL

    Any read-only query on the workbench database: edit it below and press **Run query**. Its rows
    are `query_result`, a polars frame later cells can use. A query that fails shows PostgreSQL's
    message here and keeps the last result.
    """)
    return


@app.cell
def _(db, explore, mo):
    # after `db` (unused here): without a database, the callout at the top says why, and no editor is offered
    assert db is not None
    query = mo.ui.code_editor(value=explore.ORGANIZATIONS_SQL, language="sql", min_height=160).form(
        submit_button_label="Run query", bordered=False
    )
    query
    return (query,)


@app.cell
def _(mo):
    get_query_result, set_query_result = mo.state(None)
    return get_query_result, set_query_result


@app.cell
def _(db, explore, query, set_query_result):
    query_rows, query_error = explore.run_sql(db, query.value or explore.ORGANIZATIONS_SQL)
    if query_rows is not None:
        set_query_result(query_rows)
    return query_error, query_rows


@app.cell
def _(explore, get_query_result, query_error, query_rows):
    query_result = query_rows if query_rows is not None else get_query_result()
    explore.sql_outcome(query_result, query_error)
    return (query_result,)


if __name__ == "__main__":
    app.run()
