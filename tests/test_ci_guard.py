"""In CI an unreachable PostgreSQL fails the run; it is never silently skipped."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_health_tests(ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": ci, "TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/unreachable"}
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_health.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_unreachable_postgres_fails_in_ci() -> None:
    result = run_health_tests("true")
    assert result.returncode != 0
    assert "CI=true: this is a failure, not a skip" in result.stdout + result.stderr


def test_unreachable_postgres_skips_locally() -> None:
    result = run_health_tests("")
    assert result.returncode == 0, result.stdout[-2000:]
    assert re.search(r"\d+ skipped", result.stdout) and "is unreachable" in result.stdout  # visible, with why
