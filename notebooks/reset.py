import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="fleetlab reset")


@app.cell
def _():
    import marimo as mo

    return (mo,)


@app.cell
def _():
    from fleetlab import notebook as fnb

    return (fnb,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # Reset the workbench database

    Pick a scenario, adjust its fields and check the preview: nothing is written until you press
    **Reset the database**. The reset drops, recreates, migrates and loads the workbench database
    (`DATABASE_URL`, or the embedded server in `FLEETLAB_HOME`), exactly as `fleetlab reset` does.

    Headless, the same notebook takes `fleetlab reset`'s flags:
    `python notebooks/reset.py --orgs 2 --factories-per-org 2 --gateways-per-factory 3 --seed 1`.
    """)
    return


@app.cell
def _(fnb):
    # the flags this notebook was started with (command line, `marimo run … -- FLAGS`, or $FLEETLAB_NOTEBOOK_ARGS)
    args = fnb.fleet_args(prog="notebooks/reset.py")
    return (args,)


@app.cell
def _(args, fnb, mo):
    scenario = mo.ui.dropdown(
        options=fnb.scenario_options(args.scenario),
        value=args.scenario or "default",
        label="Scenario",
    )
    return (scenario,)


@app.cell
def _(args, fnb, scenario):
    defaults = fnb.form_defaults(scenario.value, args)
    return (defaults,)


@app.cell
def _(defaults, mo):
    orgs = mo.ui.text(value=defaults["orgs"], label="Organizations", placeholder="N or MIN-MAX")
    return (orgs,)


@app.cell
def _(defaults, mo):
    factories_per_org = mo.ui.text(
        value=defaults["factories_per_org"], label="Factories per organization", placeholder="N or MIN-MAX"
    )
    return (factories_per_org,)


@app.cell
def _(defaults, mo):
    gateways_per_factory = mo.ui.text(
        value=defaults["gateways_per_factory"], label="Gateways per factory", placeholder="N or MIN-MAX"
    )
    return (gateways_per_factory,)


@app.cell
def _(defaults, mo):
    seed = mo.ui.text(value=defaults["seed"], label="Seed", placeholder="0")
    return (seed,)


@app.cell
def _(defaults, mo):
    locale = mo.ui.text(value=defaults["locale"], label="Locale(s)", placeholder="en_US or en_US,de_DE")
    return (locale,)


@app.cell
def _(defaults, mo):
    as_of = mo.ui.text(value=defaults["as_of"], label="As of", placeholder="now, or 2026-01-01T00:00:00Z")
    return (as_of,)


@app.cell(hide_code=True)
def _(
    as_of,
    factories_per_org,
    fnb,
    gateways_per_factory,
    locale,
    mo,
    orgs,
    scenario,
    seed,
):
    mo.vstack(
        [
            mo.md("## The fleet"),
            mo.hstack([scenario, mo.md(fnb.scenario_names().get(scenario.value, ""))], justify="start"),
            mo.hstack([orgs, factories_per_org, gateways_per_factory], justify="start"),
            mo.hstack([seed, locale, as_of], justify="start"),
        ]
    )
    return


@app.cell
def _(
    as_of,
    factories_per_org,
    fnb,
    gateways_per_factory,
    locale,
    orgs,
    scenario,
    seed,
):
    fleet_argv = fnb.form_argv(
        scenario.value,
        {
            "orgs": orgs.value,
            "factories_per_org": factories_per_org.value,
            "gateways_per_factory": gateways_per_factory.value,
            "seed": seed.value,
            "locale": locale.value,
            "as_of": as_of.value,
        },
    )
    fleet = fnb.stop_on_error(lambda: fnb.build_fleet(fleet_argv), "Cannot build this fleet")
    return fleet, fleet_argv


@app.cell(hide_code=True)
def _(fleet, fleet_argv, fnb, mo):
    mo.vstack(
        [
            mo.md(f"## Preview\n\n`fleetlab reset {' '.join(fleet_argv)}` would load these rows (nothing is written yet):"),
            fnb.counts_frame(fleet.counts()),
        ]
    )
    return


@app.cell
def _(fleet, fnb, mo):
    fnb.tabs(fnb.preview(fleet))
    return


@app.cell
def _(mo):
    reset_button = mo.ui.run_button(label="Reset the database", kind="danger")
    return (reset_button,)


@app.cell(hide_code=True)
def _(fnb, mo, reset_button):
    mo.hstack([reset_button, mo.md(f"replaces {fnb.volatile(fnb.target_description())}")], justify="start")
    return


@app.cell
def _(fleet, fnb, reset_button):
    fnb.gate(reset_button, "Press **Reset the database** to replace the workbench database with this fleet.")
    with fnb.progress_bar(sum(fleet.counts().values())) as _progress:
        result = fnb.stop_on_error(lambda: fnb.reset_workbench(fleet, progress=_progress), "The reset failed")
    return (result,)


@app.cell(hide_code=True)
def _(fnb, mo, result):
    mo.vstack(
        [
            mo.md(fnb.done_message(result)),
            fnb.summary(result),
        ]
    )
    return


@app.cell
def _(fnb, mo, result):
    fnb.tabs(fnb.first_rows(result.url))
    return


if __name__ == "__main__":
    from fleetlab.notebook import run_script

    raise SystemExit(run_script(app))
