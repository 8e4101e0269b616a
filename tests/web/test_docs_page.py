"""The API docs page (/docs) in a real browser (Debian's Chromium through Playwright) against a
real `deconflict serve`: Swagger UI from the hub's own files renders every operation of
/openapi.json, under the view's Content-Security-Policy, with no request off the machine and no
script error; its Trusted Types policy refuses active markup (security.md §6)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser

from deconflict.testing import served
from tests.web.browser import screenshot

pytestmark = pytest.mark.browser

#: What the browser reports on the page and that is expected: Swagger UI's icons are data:
#: images its styles name, which `img-src 'self'` refuses, and DOMPurify's attempt at a Trusted
#: Types policy of its own, which `trusted-types default` refuses (it then works without one).
EXPECTED = ("Loading the image 'data:", "Creating a TrustedTypePolicy named 'dompurify'")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(tmp_path_factory.mktemp("docs") / "hub.db") as served_url:
        yield served_url


def _operations(url: str) -> int:
    with urllib.request.urlopen(f"{url}/openapi.json", timeout=10) as answer:
        document = json.loads(answer.read())
    methods = {"get", "put", "post", "delete", "patch"}
    return sum(len(methods & set(item)) for item in document["paths"].values())


def test_the_docs_render_every_operation_offline_under_the_policy(
    browser: Browser, url: str
) -> None:
    """Every operation of /openapi.json is shown and opens; every request stays on 127.0.0.1;
    no script error, and no console error but the expected ones."""
    context = browser.new_context()
    outside: list[str] = []
    errors: list[str] = []

    def guard(route: Any) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text) if m.type == "error" and not m.text.startswith(EXPECTED) else None
        ),
    )
    try:
        page.goto(f"{url}/docs")
        page.wait_for_selector(".opblock")
        assert page.locator(".opblock").count() == _operations(url)
        page.locator(".opblock-summary").first.click()
        page.wait_for_selector(".opblock-body")
        screenshot(page, "docs-page")
    finally:
        context.close()
    assert outside == [], f"the docs reached off the machine: {outside}"
    assert errors == [], f"errors on the docs page: {errors}"


def test_the_docs_policy_refuses_active_markup(browser: Browser, url: str) -> None:
    """On /docs, HTML such as Swagger UI's sanitised Markdown is let through, and markup that
    names a script, a frame or an event handler is refused by the page's policy."""
    page = browser.new_page()
    try:
        page.goto(f"{url}/docs")
        page.wait_for_selector(".opblock")
        outcome = page.evaluate(
            """() => {
              const box = document.createElement("div");
              const tried = {};
              for (const html of ["<p>text <code>code</code></p>",
                                  "<img src=x onerror=alert(1)>",
                                  "<script>alert(1)</script>",
                                  "<iframe src=/></iframe>",
                                  "<a href='javascript:alert(1)'>x</a>"]) {
                try { box.innerHTML = html; tried[html] = "set"; }
                catch (e) { tried[html] = e.name; }
              }
              return tried;
            }"""
        )
    finally:
        page.close()
    assert outcome.pop("<p>text <code>code</code></p>") == "set"
    assert set(outcome.values()) == {"TypeError"}, outcome


def test_the_docs_files_are_the_packages(url: str) -> None:
    """/docs loads Swagger UI from the package's vendored copy of npm's swagger-ui-dist."""
    with urllib.request.urlopen(f"{url}/vendor/swagger-ui/swagger-ui-bundle.js") as answer:
        served_bundle = answer.read()
    root = Path(__file__).resolve().parents[2]
    npm = root / "web" / "node_modules" / "swagger-ui-dist" / "swagger-ui-bundle.js"
    assert served_bundle == npm.read_bytes()
