"""The browser the report and teaching-page tests drive starts, runs JavaScript and reports errors."""

from __future__ import annotations

from browser import browser, page  # noqa: F401  (pytest fixtures)


def test_chromium_runs_a_page_and_reports_its_errors(page):  # noqa: F811
    page.set_content("<p id=x>before</p><script>document.getElementById('x').textContent = 'after';</script>")
    assert page.text_content("#x") == "after"
    assert page.errors == []
    page.set_content("<script>undefined_function();</script>")
    assert any("undefined_function" in e for e in page.errors)
