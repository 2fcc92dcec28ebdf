"""The wheel works on its own: built, installed in a fresh virtualenv outside the repository, it resets.

It carries what an installed fleetlab needs (migrations, the platform's schema, the presets) and
the notebooks (`fleetlab notebooks` serves them), and none of the development tooling (scripts, tests,
benchmarks).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import psycopg
import pytest

from fleetlab import __version__
from fleetlab.store import migrate

from .conftest import TEST_KEY

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "fleetlab"
needs_uv = pytest.mark.skipif(shutil.which("uv") is None, reason="uv builds the wheel (CI installs it)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(out), str(ROOT)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("fleetlab-*.whl")
    assert built.name.startswith(f"fleetlab-{__version__}-")
    return built


@needs_uv
def test_wheel_ships_the_package_data_and_no_dev_tooling(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    for m in migrate.discover():
        packaged = f"fleetlab/migrations/{m.filename}"
        assert packaged in names
    assert "fleetlab/store/platform_schema.json" in names
    assert {"fleetlab/app/world-110m.json", "fleetlab/app/world-110m.LICENSE"} <= names  # the map, offline
    assert {f"fleetlab/model/scenarios/{p.name}" for p in (PACKAGE / "model/scenarios").glob("*.toml")} <= names
    notebooks = {f"fleetlab/notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.py")}
    assert len(notebooks) == 3 and notebooks <= names  # `fleetlab notebooks` serves them from the package
    modules = {n for n in names if n.startswith("fleetlab/") and n.endswith(".py")} - notebooks
    assert modules == {f"fleetlab/{p.relative_to(PACKAGE)}" for p in PACKAGE.rglob("*.py")}
    # nothing but the package (and its metadata): no snapshot tooling, tests or benchmarks
    assert {n.split("/")[0] for n in names} == {"fleetlab", f"fleetlab-{__version__}.dist-info"}


@needs_uv
def test_the_installed_wheel_resets_outside_the_repository(wheel, tmp_path, new_db):
    venv = tmp_path / "venv"
    subprocess.run(
        ["uv", "venv", "--quiet", "--python", "3.11", str(venv)], check=True, capture_output=True, timeout=300
    )
    python = venv / "bin" / "python"
    done = subprocess.run(
        ["uv", "pip", "install", "--quiet", "--python", str(python), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    away = tmp_path / "elsewhere"  # no checkout in sight: the package's own files must do
    away.mkdir()
    url = new_db(create=False).render(masked=False)  # the reset creates it
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("FLEETLAB_", "DATABASE_URL", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(DATABASE_URL=url, FLEETLAB_HOME=str(away / "home"), FLEETLAB_SECRET_KEY=TEST_KEY)

    def fleetlab(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(venv / "bin" / "fleetlab"), *args], cwd=away, env=env, capture_output=True, text=True, timeout=300
        )

    where = subprocess.run(
        [str(python), "-c", "import fleetlab.store.migrate as m; print(m.MIGRATIONS_DIR)"],
        cwd=away,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.returncode == 0 and str(venv) in where.stdout, where.stderr
    done = fleetlab("reset", "--yes", "--scenario", "multi-tenant", "--orgs", "2", "--seed", "3")
    assert done.returncode == 0, done.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM organizations").fetchone()[0] == 2
        applied = conn.execute("SELECT count(*) FROM fleetlab_meta.schema_migrations").fetchone()[0]
    assert applied == len(migrate.discover())
    checked = fleetlab("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "all 9 checks passed" in checked.stdout
    # the notebooks travel with the package: each is served from the installed wheel, and its page loads
    listed = fleetlab("notebooks")
    assert listed.returncode == 0 and [line.split()[0] for line in listed.stdout.splitlines()[:3]] == [
        "compare",
        "explore",
        "reset",
    ]
    assert str(venv) in listed.stdout  # the package's own copies, not the checkout's
    for name, heading in (("explore", "Explore the fleet"), ("compare", "Compare two scenarios"), ("reset", "Reset")):
        assert heading in _served_page(venv, env, away, name), name


def _served_page(venv: Path, env: dict[str, str], cwd: Path, name: str) -> str:
    """The text of notebook `name` served by the installed `fleetlab notebooks run`, read in Chromium."""
    import time
    import urllib.request

    from browser import chromium, free_port

    port = free_port()
    proc = subprocess.Popen(
        [str(venv / "bin" / "fleetlab"), "notebooks", "run", name, "--headless", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.wait_for_timeout(8000)
            text = page.inner_text("body")
        assert "Traceback" not in text and "error occurred" not in text, text[:2000]
        return text
    finally:
        proc.terminate()
        proc.wait(timeout=15)
