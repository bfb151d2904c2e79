"""Fixtures for end-to-end tests in a real headless Chromium (the Debian ``chromium`` package
driven by Playwright). The admin runs in Django's live server; gateway processes and the fake
upstream come from the data-plane fixtures. Screenshots of each step go to test-artifacts/."""

import os
import shutil
from pathlib import Path

import pytest

from tests.gateway.conftest import database_url, fake_upstream, start_gateway  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="needs the playwright package (the test extra)"
    )
    # Playwright's sync API keeps an event loop in this thread, which Django's ORM takes for
    # an async context; the test itself is synchronous, so allow it while the browser runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with playwright_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def screenshot(page, request):
    """Save a full-page screenshot as test-artifacts/<test>/<nn>-<step>.png."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    steps = []

    def take(step: str) -> Path:
        steps.append(step)
        path = folder / f"{len(steps):02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
