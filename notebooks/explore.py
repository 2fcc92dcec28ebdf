import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="fleetlab explore")


@app.cell
def _():
    import marimo as mo

    return (mo,)


@app.cell
def _():
    from fleetlab.app import charts, explore, maps
    from fleetlab.app import notebook as fnb
    from fleetlab.read import last_seen, sites

    return charts, explore, fnb, last_seen, maps, sites


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
    connection = explore.connect()
    return (connection,)


@app.cell
def _(connection, explore):
    db = explore.workbench(connection)
    return (db,)


@app.cell(hide_code=True)
def _(db, explore, mo):
    watch = mo.ui.refresh(default_interval="10s")
    mo.vstack(
        [
            mo.md(explore.describe(db)),
            mo.hstack([watch, mo.md("checks that the database is still the one read")], justify="start"),
        ]
    )
    return (watch,)


@app.cell(hide_code=True)
def _(db, explore, watch):
    explore.replaced_notice(db, watch.value)
    return


@app.cell
def _(charts, db, explore, mo):
    overview, pairs_all = db.fleet_and_factories(), db.breakdown(ages=charts.AGE_BOUNDS)
    silent_all = db.silent_by_day()
    filters = explore.filters(overview[0], pairs_all)
    mo.vstack(
        [
            mo.md(
                "Narrow every table and chart below to some organizations, models, firmware versions or "
                "statuses (none chosen: the whole fleet)."
            ),
            filters.hstack(widths="equal"),
        ]
    )
    return filters, overview, pairs_all, silent_all


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
def _(db, explore, mo, overview, where):
    summary, factory_rows = explore.reuse(where, overview, db.fleet_and_factories)
    organizations = explore.organizations_table(summary)
    mo.vstack([mo.md(explore.status_line(summary)), organizations])
    return factory_rows, organizations, summary


@app.cell
def _(charts, summary, where):
    charts.organization_health(summary, statuses=where.statuses)
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
def _(explore, factory_rows, organizations, where):
    per_factory = explore.of_organizations(explore.narrowed(factory_rows, where), organizations.value)
    return (per_factory,)


@app.cell
def _(maps, mo, per_factory, sites):
    site_frame = sites.sites(per_factory)
    site_map = mo.ui.altair_chart(
        maps.site_map(site_frame, unplaced=sites.unplaced(per_factory), width=900),
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
    ## Where gateways fail

    The share of gateways stale or never seen, per model, firmware version and factory, against the
    share of all of them (the dashed line): a bad firmware or site stands out.
    """)
    return


@app.cell
def _(charts, db, explore, pairs_all, where):
    pairs = explore.reuse(where, pairs_all, db.breakdown, ages=charts.AGE_BOUNDS)
    return (pairs,)


@app.cell
def _(charts, explore, mo, pairs, per_factory, where):
    mo.hstack(
        [
            charts.failure_rates(explore.collapse(pairs, "model"), "model", "Per model", statuses=where.statuses),
            charts.failure_rates(
                explore.collapse(pairs, "firmware_version"), "firmware_version", "Per firmware", statuses=where.statuses
            ),
            charts.failure_rates(per_factory, "factory", "Per factory", statuses=where.statuses),
        ],
        justify="start",
        gap=2,
        wrap=True,
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## When were the gateways last seen?
    """)
    return


@app.cell
def _(charts, db, last_seen, pairs):
    ages = charts.age_buckets(last_seen.ages(pairs))
    charts.last_seen_ages(ages, db.clock.as_of)
    return (ages,)


@app.cell
def _(charts, db, explore, silent_all, where):
    # a status filter that keeps stale gateways asks nothing new of them: the page's first answer
    silent = explore.reuse(where.for_status("stale") or where, silent_all, db.silent_by_day)
    charts.went_silent(silent, db.clock)
    return (silent,)


@app.cell
def _(db, explore, summary, where):
    stale = db.stale_gateways(include_never_seen=True, where=where, limit=explore.SHOWN)
    explore.silent_table(stale, db.clock, summary)
    return (stale,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Models and firmware
    """)
    return


@app.cell
def _(charts, explore, mo, pairs):
    mo.hstack(
        [
            charts.mix(explore.collapse(pairs, "model"), "model", "Gateway models"),
            charts.mix(explore.collapse(pairs, "firmware_version"), "firmware_version", "Firmware versions"),
            charts.models_by_firmware(pairs),
        ],
        justify="start",
        gap=2,
        wrap=True,
    )
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Soft-deleted rows
    """)
    return


@app.cell
def _(charts, db, explore, where):
    by_month, deleted = db.deletions(where=where, limit=explore.SHOWN)
    charts.deletions_timeline(by_month)
    return by_month, deleted


@app.cell
def _(by_month, deleted, explore):
    explore.deleted_table(deleted, by_month)
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
def _(connection, explore):
    query = explore.editor(connection)
    query
    return (query,)


@app.cell
def _(mo):
    get_query_result, set_query_result = mo.state(None)
    return get_query_result, set_query_result


@app.cell
def _(db, explore, query, set_query_result):
    query_rows, query_error = explore.run_sql(db, query.value or explore.EXAMPLE_SQL)
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
