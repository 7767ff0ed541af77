"""The web app's own tests (Vitest: components and data transforms), run by the suite."""

from __future__ import annotations

import subprocess

from .conftest import DASHBOARD_DIR, npm


def test_vitest_suite_passes(dashboard_build) -> None:
    if not (DASHBOARD_DIR / "node_modules").exists():
        npm("ci", "--no-audit", "--no-fund")
    done = subprocess.run(["npm", "test", "--silent"], cwd=DASHBOARD_DIR, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout
