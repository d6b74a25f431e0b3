"""Headless Debian Chromium driven by Playwright (the pip package is only the driver: the browser is Debian's
`chromium`, installed by the Makefile's set-up; `playwright install` is never run). With CI=true a missing
browser fails the run; locally the browser tests are skipped with the reason."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.commerce.conftest import (  # noqa: F401  (fixtures: a quote to accept)
    api,
    job,
    price_list,
    quote_for,
    unit,  # noqa: F401  (fixture: a unit delivered 2026-11-02 and its job)
)
from tests.conftest import IN_CI
from tests.maintenance.conftest import equipment  # noqa: F401  (fixture: a unit to plan maintenance for)
from tests.signing.conftest import chinese_job  # noqa: F401  (fixture)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        message = f"{CHROMIUM} is not installed (run `make install-system`, which installs Debian's chromium)"
        if IN_CI:
            pytest.fail(message + " (CI=true: a missing browser is a failure, not a skip)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", accept_downloads=True, viewport={"width": 800, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def browser_artifacts(artifacts_dir: Path) -> Path:
    """Screenshots and downloads: $TEST_ARTIFACTS_DIR, else test-artifacts/ (git-ignored)."""
    path = Path(os.environ["TEST_ARTIFACTS_DIR"]) if os.environ.get("TEST_ARTIFACTS_DIR") else artifacts_dir
    path.mkdir(parents=True, exist_ok=True)
    return path
