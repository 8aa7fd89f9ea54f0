"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by Playwright.

``playwright install`` cannot download browsers on the build machines, so the tests launch the
system's Chromium by path (``JSIM_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on the
PATH; ``.ci/run`` installs Debian's package). Where there is none, or Playwright is not installed,
the tests that use :func:`page` skip and say why.
"""

from __future__ import annotations

import os
import shutil

import pytest


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None."""
    env = os.environ.get("JSIM_CHROMIUM")
    if env and os.access(env, os.X_OK):
        return env
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (Playwright ``Browser``) for the module's tests; skips where none can start."""
    playwright = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (pip install)")
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (install Debian's chromium or set JSIM_CHROMIUM); browser tests skipped")
    with playwright.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        except Exception as exc:  # a Chromium that cannot start here: say why instead of failing
            pytest.skip(f"Chromium at {path} did not start: {str(exc).splitlines()[0]}")
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page that records console errors and page errors in ``page.errors`` (a list of text)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.errors = []
    pg.on("console", lambda msg: pg.errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    yield pg
    context.close()
