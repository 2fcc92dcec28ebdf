"""The notebooks in a real browser: `marimo run` driven by headless Chromium (scripts/browser.py).

Debian's chromium (/usr/bin/chromium) through the Python playwright package; playwright's own
browser download is never used. Skipped only when chromium is missing outside CI.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl
import psycopg
import pytest
import suite_server
from browser import CHROMIUM, chromium, serving

from fleetlab.app import notebook, options
from fleetlab.config import Settings
from fleetlab.dsn import DatabaseURL
from fleetlab.store import databases
from fleetlab.store.reset import reset

SCREENSHOT = Path(os.environ.get("FLEETLAB_SCREENSHOT_DIR") or "/tmp") / "fleetlab-reset-app.png"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason=f"{CHROMIUM} is not installed (apt-get install chromium); under CI=true this test runs",
)


@pytest.fixture(scope="module")
def served(admin, template_db, server_url, tmp_path_factory):
    """The database the module's `marimo run` servers read and write (their DATABASE_URL is fixed when
    they start): its settings and the servers' environment. `workbench` makes it afresh for each test."""
    name = f"fltest_{os.getpid()}_browser"
    settings = Settings(
        database_url=server_url.with_dbname(name).render(masked=False),
        home=tmp_path_factory.mktemp("browser") / "home",
        secret_key=suite_server.TEST_KEY,
        cache_entries=0,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETLAB_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=settings.database_url,
        FLEETLAB_HOME=str(settings.home),
        FLEETLAB_SECRET_KEY=suite_server.TEST_KEY,
        FLEETLAB_CACHE_ENTRIES="0",
    )
    yield settings, env
    for leftover in (name, databases.build_name(name), databases.previous_name(name)):
        databases.drop(admin, leftover, server_url)


@pytest.fixture
def workbench(served, admin, template_db, server_url) -> Settings:
    """The served database made afresh for this test: a clone of the empty migrated template, whatever an
    earlier test loaded into it (dropping it ends the sessions an earlier test's page left connected)."""
    settings, _ = served
    name = DatabaseURL.parse(settings.database_url).database
    for leftover in (name, databases.build_name(name), databases.previous_name(name)):
        databases.drop(admin, leftover, server_url)
    databases.clone(admin, template_db, name)
    return settings


@pytest.fixture(scope="module")
def reset_app(served, tmp_path_factory):
    """`marimo run notebooks/reset.py` on a free loopback port, against the served database; one server
    for the module (each page opened is a session of its own)."""
    with serving("notebooks/reset.py", served[1], tmp_path_factory.mktemp("reset-app")) as url:
        yield url


@pytest.fixture(scope="module")
def explore_app(served, tmp_path_factory):
    """`marimo run notebooks/explore.py` against the served database; one server for the module, each
    test loading the fleet it needs before it opens its page (a new session, which reads it afresh)."""
    with serving("notebooks/explore.py", served[1], tmp_path_factory.mktemp("explore-app")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    """A fresh page in a browser context of its own: no cookies, storage or cache from another test."""
    context = browser.new_context(viewport={"width": 1280, "height": 1800})
    try:
        yield context.new_page()
    finally:
        context.close()


def test_reset_app_resets_with_the_counts_set_in_the_form(reset_app, workbench, page):
    from playwright.sync_api import expect

    page.goto(reset_app)
    expect(page.get_by_text("would load these rows")).to_be_visible(timeout=60_000)
    for name, value in [
        ("Organizations", "2"),
        ("Factories per organization", "2"),
        ("Gateways per factory", "3"),
        ("Seed", "1"),
    ]:
        page.get_by_role("textbox", name=name).fill(value)
    page.get_by_role("button", name="Preview").click()  # the form sends all its fields at once
    # the description follows the fields changed from the scenario
    expect(page.get_by_text("changed here:")).to_be_visible(timeout=30_000)
    # the preview follows the form before anything is written
    expect(
        page.get_by_text(  # the preview's command, not the intro's example
            "fleetlab reset --scenario default --orgs 2 --factories-per-org 2 --gateways-per-factory 3 --seed 1"
        )
    ).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Reset the database").click()
    expect(page.get_by_role("heading", name="Done")).to_be_visible(timeout=120_000)
    # the first rows of each table, read back from the database, come last
    expect(page.get_by_role("tab", name="gateways")).to_have_count(2, timeout=30_000)
    done = page.locator("body").inner_text().split("Done", 1)[1]
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert re.search(r"Loaded 2 organizations, 4 factories, 12 gateways into ", done), done[:2000]
    with psycopg.connect(workbench.database_url) as conn:
        rows = [
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("organizations", "factories", "gateways")
        ]
    assert rows == [2, 4, 12]


def marker_created(settings: Settings):
    """When the database was made (a reset makes a new one): the marker's created_at."""
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute("SELECT created_at FROM fleetlab_meta.fleetlab_marker").fetchone()[0]


def test_reset_app_replaces_a_fleet_only_once_confirmed_and_asks_again_after(reset_app, workbench, page):
    from playwright.sync_api import expect

    argv = [
        "--scenario",
        "multi-tenant",
        "--orgs",
        "2",
        "--factories-per-org",
        "2",
        "--gateways-per-factory",
        "3",
        "--seed",
        "4",
    ]
    reset(workbench, options.fleet_for(notebook.parser().parse_args(argv)))
    before = marker_created(workbench)
    page.goto(reset_app)
    expect(page.get_by_role("heading", name="The database now")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("holds multi-tenant (seed 4), 12 gateways")).to_be_visible(timeout=30_000)
    question = page.get_by_role(
        "checkbox", name="Replace the workbench database holding multi-tenant (seed 4), 12 gateways?"
    )
    expect(question).not_to_be_checked(timeout=30_000)
    button = page.get_by_role("button", name="Reset the database")
    button.click()  # not confirmed: refused, nothing changed
    expect(page.get_by_text("Nothing was changed.")).to_be_visible(timeout=30_000)
    assert marker_created(workbench) == before
    question.check()
    button.click()
    expect(page.get_by_role("heading", name="Done")).to_be_visible(timeout=120_000)
    after = marker_created(workbench)
    assert after != before
    # the page describes the new database, and a second reset needs a second tick
    again = page.get_by_role("checkbox", name="Replace the workbench database holding default (seed 0), 6 gateways?")
    expect(again).not_to_be_checked(timeout=30_000)
    expect(page.get_by_role("heading", name="Done")).to_be_visible()  # the result stays until the next press
    page.screenshot(path=str(SCREENSHOT.with_name("fleetlab-reset-confirmed.png")), full_page=True)
    button.click()
    expect(page.get_by_text("Nothing was changed.")).to_be_visible(timeout=30_000)
    assert marker_created(workbench) == after


def test_explore_without_a_database_says_so_once(cli_env, tmp_path, page):
    """No server behind DATABASE_URL: one callout that says what to do, not a wall of failed cells."""
    from playwright.sync_api import expect

    env = {**cli_env, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"}
    with serving("notebooks/explore.py", env, tmp_path) as url:
        page.goto(url)
        expect(page.get_by_text("No fleet to explore")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("heading", name="Your own SQL")).to_be_visible(timeout=30_000)
        page.wait_for_timeout(3_000)  # the cells after the check settle (they must stay silent)
        page.screenshot(path=str(SCREENSHOT.with_name("fleetlab-explore-no-database.png")), full_page=True)
        # counted through locators: marimo renders outputs in shadow roots, which inner_text() skips
        assert page.get_by_text("No fleet to explore").count() == 1
        assert page.get_by_text("uv run fleetlab reset").count() >= 1
        # the server is unreachable, not empty: reaching it comes first, not "reset the workbench"
        assert page.get_by_text("The server did not answer").count() == 1
        assert page.get_by_text("Reset the workbench first").count() == 0
        # the SQL editor is there, off, and says why in a line that points at the callout
        assert page.get_by_text("The editor is off").count() == 1
        assert page.get_by_role("button", name="Run query").count() == 0
        for noise in ("Traceback", "ancestor", "DatabaseUnavailable", "sqlalchemy", "raised", "cannot be None"):
            assert page.get_by_text(noise).count() == 0, noise


def test_explore_runs_the_query_typed_into_its_sql_editor(explore_app, workbench, page):
    from playwright.sync_api import expect

    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.store.reset import reset

    reset(workbench, plan(load_scenario("multi-tenant").override(organizations="3", as_of="2026-01-01T00:00:00Z")))
    page.goto(explore_app)
    expect(page.get_by_role("button", name="Run query")).to_be_visible(timeout=90_000)
    editor = page.locator(".cm-content").last
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("SELECT count(*) AS counted_gateways FROM gateways WHERE deleted_at IS NULL")
    page.get_by_role("button", name="Run query").click()
    expect(page.get_by_text("counted_gateways", exact=True)).to_be_visible(timeout=30_000)  # the result's header
    page.screenshot(path=str(SCREENSHOT.with_name("fleetlab-explore.png")), full_page=True)
    # a query that fails: PostgreSQL's message under the editor, and the last result stays
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("SELEC count(*) FROM gateways")
    page.get_by_role("button", name="Run query").click()
    expect(page.get_by_text("The query failed", exact=False)).to_be_visible(timeout=30_000)
    expect(page.get_by_text("syntax error", exact=False).first).to_be_visible()
    expect(page.get_by_text("counted_gateways", exact=True)).to_be_visible()
    page.screenshot(path=str(SCREENSHOT.with_name("fleetlab-explore-sql-error.png")), full_page=True)


def test_explore_filters_narrow_the_tables_and_charts(explore_app, workbench, page):
    """Choosing one model in the filters: the models chart then shows that model alone, and the
    organizations table counts only its gateways."""
    from playwright.sync_api import expect

    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.read.filters import Filter
    from fleetlab.read.workbench import Workbench
    from fleetlab.store.reset import reset

    reset(workbench, plan(load_scenario("multi-tenant").override(organizations="3", as_of="2026-01-01T00:00:00Z")))
    url_ = workbench.database_url
    models = Workbench(url_).model_distribution()["model"].to_list()
    chosen, other = models[0], models[1]
    total = Workbench(url_).fleet_summary(where=Filter(models=(chosen,)))["gateways"].sum()
    page.goto(explore_app)
    chart = page.locator(".vega-embed").filter(has_text="Gateway models")
    expect(chart.get_by_text(other, exact=True)).to_be_visible(timeout=90_000)
    page.locator("marimo-multiselect").filter(has_text="Models").get_by_role("button").first.click()
    page.get_by_role("option", name=chosen, exact=True).click()
    page.keyboard.press("Escape")
    expect(chart.get_by_text(other, exact=True)).to_have_count(0, timeout=30_000)
    expect(chart.get_by_text(chosen, exact=True)).to_be_visible()
    page.screenshot(path=str(SCREENSHOT.with_name("fleetlab-explore-filtered.png")), full_page=True)
    assert total > 0


def test_reset_button_is_disabled_while_the_form_is_invalid(reset_app, workbench, page):
    from playwright.sync_api import expect

    page.goto(reset_app)
    expect(page.get_by_text("would load these rows")).to_be_visible(timeout=60_000)
    button = page.get_by_role("button", name="Reset the database")
    expect(button).to_be_enabled()
    page.get_by_role("textbox", name="Organizations").fill("-1")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("Cannot build this fleet")).to_be_visible(timeout=30_000)
    expect(button).to_be_disabled(timeout=30_000)
    page.get_by_role("textbox", name="Organizations").fill("2")
    page.get_by_role("button", name="Preview").click()
    expect(button).to_be_enabled(timeout=30_000)
    page.screenshot(path=str(SCREENSHOT.with_name("fleetlab-reset-form.png")), full_page=True)


def test_explore_map_renders_offline_and_drills_down_to_a_site_and_a_factory(explore_app, workbench, page):
    """The map draws the world's countries and one circle per site with no request leaving this machine;
    clicking a site narrows the factories table to that site's factories, and selecting a factory there
    lists that factory's gateways."""
    from playwright.sync_api import expect

    from fleetlab.app import explore
    from fleetlab.generation.fleets import plan
    from fleetlab.model.scenarios import load_scenario
    from fleetlab.read import sites
    from fleetlab.read.workbench import Workbench
    from fleetlab.store.reset import reset

    reset(workbench, plan(load_scenario("international").override(organizations="4", as_of="2026-01-01T00:00:00Z")))
    per_factory = Workbench(workbench.database_url).gateways_per_factory()
    site_frame = sites.sites(per_factory)
    assert sites.unplaced(per_factory) == 0 and site_frame.height > 1
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(explore_app) else None)
    page.goto(explore_app)
    chart = page.locator(".vega-embed").filter(has_text="Factory sites")
    circles = chart.locator("g.mark-symbol.role-mark path")
    expect(circles).to_have_count(site_frame.height, timeout=90_000)
    assert chart.locator("g.mark-shape.role-mark path").count() > 100  # the countries, from the package's file
    # the went-silent view: a bar for each day a stale gateway was last seen (or week, past 92 days)
    days = Workbench(workbench.database_url).silent_by_day()
    span = (days["day"].max() - days["day"].min()).days
    bars = days["day"].dt.truncate("1w").n_unique() if span > 92 else days.height
    silent = page.locator(".vega-embed").filter(has_text="Went silent").locator("g.mark-rect.role-mark path")
    expect(silent).to_have_count(bars, timeout=30_000)
    table = page.locator("marimo-table").filter(has_text="Select a factory to list its gateways")
    expect(table.get_by_text(f"{per_factory.height} rows", exact=False)).to_be_visible(timeout=30_000)

    # a factory picked in the table (its second row: the first is what the notebook shows unasked)
    second = table.locator("tbody tr").nth(1)
    organization, factory = (second.locator("td").nth(i).inner_text().strip() for i in (1, 2))
    second.locator("td").first.click()
    expect(page.get_by_text(f"{organization} / {factory}", exact=False)).to_be_visible(timeout=30_000)
    default = explore.most_silent(per_factory).row(0, named=True)
    assert (default["organization"], default["factory"]) != (organization, factory)

    # the topmost circle (drawn last) is the one under its own centre
    circles.last.hover(force=True)
    tip = page.locator("#vg-tooltip-element")
    expect(tip).to_be_visible(timeout=10_000)
    here = int(re.search(r"factories here\s*(\d+)", tip.inner_text()).group(1))
    circles.last.click(force=True)
    expect(table.get_by_text(re.compile(rf"^{here} rows?\b"))).to_be_visible(timeout=30_000)

    # an organization selected in its table: the map and the factories show only its sites
    organizations = page.locator("marimo-table").filter(has_text="Select organizations to narrow")
    row = organizations.locator("tbody tr").first
    tenant = row.locator("td").nth(1).inner_text().strip()
    row.locator("td").first.click()
    theirs = per_factory.filter(pl.col("organization") == tenant)
    expect(table.get_by_text(re.compile(rf"^{theirs.height} rows?\b"))).to_be_visible(timeout=30_000)
    expect(circles).to_have_count(sites.sites(theirs).height, timeout=30_000)

    page.screenshot(path=str(SCREENSHOT.with_name("fleetlab-explore-drilled.png")), full_page=True)
    chosen = per_factory.filter((pl.col("organization") == organization) & (pl.col("factory") == factory))
    assert chosen.height == 1
    assert outside == [], outside[:5]


def test_notebooks_served_together_link_to_each_other(cli_env, tmp_path, page):
    """`marimo run notebooks`: the reset app links to explore, and explore opens from the link."""
    from playwright.sync_api import expect

    with serving("notebooks", cli_env, tmp_path) as url:
        page.goto(url + "?file=reset.py")
        link = page.get_by_role("link", name="Explore the fleet")
        expect(link).to_be_visible(timeout=60_000)
        link.click()
        expect(page.get_by_role("heading", name="Explore the fleet")).to_be_visible(timeout=60_000)
        assert "file=explore.py" in page.url
        expect(page.get_by_role("link", name="Reset the database")).to_be_visible(timeout=30_000)
