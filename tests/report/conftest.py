"""Fixtures for the report: alert dicts made field by field, and a headless Chromium."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.report_pages import CHROMIUM_FLAGS, AlertMaker, Opened, alert_maker, chromium_path


@pytest.fixture
def make_alert() -> AlertMaker:
    return alert_maker()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; .ci/run does it)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")
    with playwright_api.sync_playwright() as driver:
        # Playwright starts the browser on a fresh profile of its own (it refuses a
        # --user-data-dir), and drives Debian's build: it downloads no browser
        launched = driver.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def open_report(browser: Any) -> Iterator[Callable[[Path], Opened]]:
    contexts: list[Any] = []

    def open_(path: Path) -> Opened:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        opened = Opened(page, path.resolve().as_uri())
        page.on("dialog", lambda d: (opened.dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: opened.requests.append(r.url))
        page.on("pageerror", lambda e: opened.errors.append(str(e)))
        page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
        page.goto(opened.url)
        page.wait_for_selector("html[data-ready]", timeout=30_000)
        return opened

    yield open_
    for context in contexts:
        context.close()
