"""Driving the portal from Playwright: a browser profile on the platform's origin, and its sign-in page.

A helper module for browser tests, not a test file (the OHIF viewer has its own, `ohif.py`).
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page


def new_context(browser: Browser, origin: str, **options: Any) -> BrowserContext:
    """A fresh browser profile on `origin` (so `page.goto("/studies")` opens the portal's page), trusting the
    platform's self-signed certificate; `options` are Playwright's, e.g. `viewport`."""
    return browser.new_context(ignore_https_errors=True, base_url=origin, **options)


def sign_in(page: Page, email: str, password: str) -> None:
    """Sign in on the portal's sign-in page with a password; return once the portal has moved on (to the page
    asked for, or to /signin/2fa for an account with a second factor)."""
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: not url.rstrip("/").endswith("/signin"))
