"""Driving the viewer page in real headless Chromium (the browser tests' shared helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 180_000
"""Waits are generous: the test machine's cores are shared with training jobs."""


def skip_without_chromium() -> None:
    """Skip the calling test module when Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (Debian package `chromium`; `make setup` installs it)",
                    allow_module_level=True)
    pytest.importorskip("playwright.sync_api", reason="the dev extra installs playwright")


@contextmanager
def launched() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser, width: int = 1280, height: int = 640) -> Iterator[object]:
    """A page in a fresh context of ``width`` x ``height``; uncaught page errors fail the test."""
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def open_viewer(page, url: str, camera: str | None = None) -> None:
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]")
    if camera is not None:
        page.select_option("#camera-select", camera)
        page.wait_for_selector(f"#view[data-state=still][data-camera={camera}]")


def query(page, text: str, phrase: str) -> None:
    page.fill("#phrases", text)
    page.press("#phrases", "Enter")
    page.wait_for_selector(f'#view[data-state=overlay][data-phrase="{phrase}"]')
