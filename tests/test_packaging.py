"""The wheel carries what an installed fleetlab needs to reset: migrations, the platform's schema, presets."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from fleetlab import migrate

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv builds the wheel (CI installs it)")
def test_wheel_ships_the_migrations_byte_for_byte(tmp_path):
    done = subprocess.run(["uv", "build", "--wheel", "--out-dir", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("fleetlab-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        for m in migrate.discover(ROOT / "migrations"):
            packaged = f"fleetlab/migrations/{m.filename}"
            assert packaged in names
            assert z.read(packaged) == m.path.read_bytes()  # same checksums as a checkout's history
        assert "fleetlab/platform_schema.json" in names
        assert {f"fleetlab/scenarios/{p.name}" for p in (ROOT / "src/fleetlab/scenarios").glob("*.toml")} <= names
