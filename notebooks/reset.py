import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="fleetlab reset")


@app.cell
def _():
    import marimo as mo

    return (mo,)


@app.cell
def _():
    from fleetlab import Workbench
    from fleetlab.app import notebook as fnb
    from fleetlab.app import reset_app as rapp

    return Workbench, fnb, rapp


@app.cell(hide_code=True)
def _(fnb):
    fnb.navigation("reset.py")
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # Reset the workbench database

    Pick a scenario, adjust its fields, press **Preview** and check the rows: nothing is written
    until you press **Reset the database**, which loads the fleet previewed. A database that holds a
    fleet is replaced only once you tick the confirmation above the button, as `fleetlab reset` asks first. The reset drops, recreates, migrates and loads the workbench database
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
def _(defaults, fnb, mo, scenario):
    # one field per fleet option (the table in fleetlab.app.options): its value is {option: text}.
    # Shown by the cell that makes it, so typing in a field re-runs the fleet, not this layout.
    form = fnb.fleet_form(defaults)
    mo.vstack([mo.md("## The fleet"), scenario, form])
    return (form,)


@app.cell
def _(defaults, fnb, form, scenario):
    built = fnb.try_build(scenario.value, form.value or defaults)
    return (built,)


@app.cell
def _(built):
    fleet = built.fleet_or_stop("Cannot build this fleet")
    return (fleet,)


@app.cell(hide_code=True)
def _(defaults, fleet, fnb, form, mo, rapp, scenario):
    _values = form.value or defaults
    mo.vstack(
        [
            mo.md(
                f"## Preview\n\n{fnb.changes(scenario.value, _values)}\n\n"
                f"`{fnb.command_line(scenario.value, _values)}` would load these rows, the soft-deleted ones "
                "(`deleted_at` set) among them; nothing is written yet:"
            ),
            rapp.preview_counts(fleet),
        ]
    )
    return


@app.cell
def _(fleet, fnb, mo):
    fnb.tabs(fnb.preview(fleet))
    return


@app.cell
def _(built, mo):
    # disabled while the form is invalid: there is no fleet to load
    reset_button = mo.ui.run_button(
        label="Reset the database",
        kind="danger",
        disabled=built.error is not None,
        tooltip="fix the fields above first" if built.error is not None else None,
    )
    return (reset_button,)


@app.cell
def _(mo):
    # the description below is read again after each reset (and after a refused one); the confirmation's
    # tick is kept here, apart from its checkbox, so a new checkbox after a reset does not re-run the reset
    get_described, set_described = mo.state(0)
    get_confirmed, set_confirmed = mo.state(False)
    return get_confirmed, get_described, set_confirmed, set_described


@app.cell
def _(get_described, rapp):
    get_described()  # a reset bumps it: describe the database again
    current = rapp.current_database()
    return (current,)


@app.cell
def _(current, rapp, set_confirmed):
    # a fresh, unticked checkbox each time the database is described: a second reset needs a second tick
    confirm = rapp.confirmation(current, on_change=set_confirmed)
    return (confirm,)


@app.cell(hide_code=True)
def _(confirm, current, fnb, mo, rapp, reset_button):
    mo.vstack(
        [
            mo.md("## The database now"),
            rapp.current_view(current),
            *([confirm] if confirm is not None else []),
            mo.hstack([reset_button, mo.md(f"replaces {fnb.volatile(fnb.target_description())}")], justify="start"),
        ]
    )
    return


@app.cell
def _(fleet, fnb, get_confirmed, rapp, reset_button, set_confirmed, set_described):
    fnb.gate(reset_button, "Press **Reset the database** to replace the workbench database with this fleet.")
    rapp.gate_confirmed(get_confirmed(), on_refused=lambda: set_described(lambda n: n + 1))
    with fnb.progress_bar(sum(fleet.counts().values())) as _progress:
        result = fnb.stop_on_error(lambda: fnb.reset_workbench(fleet, progress=_progress), "The reset failed")
    set_confirmed(False)  # a second reset needs a second confirmation
    set_described(lambda n: n + 1)
    return (result,)


@app.cell(hide_code=True)
def _(fnb, mo, result):
    mo.vstack(
        [
            mo.md(fnb.done_message(result)),
            fnb.counts_frame(result.counts),
        ]
    )
    return


@app.cell
def _(Workbench, fnb, result):
    fnb.tabs(Workbench(result.url).first_rows())
    return


if __name__ == "__main__":
    from fleetlab.app.notebook import run_script

    raise SystemExit(run_script(app))
