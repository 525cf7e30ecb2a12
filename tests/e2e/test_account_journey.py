"""A person's first session, through the real portal, against the platform command 1 starts.

Sign up as a health professional, verify the email, sign in, upload a certificate, enrol TOTP,
sign out and back in with a code; then the demo admin enrols TOTP, signs in with it and approves
the certificate, and the professional's account shows as approved.
"""

from __future__ import annotations

import re
import time
import uuid

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.portal import new_context, sign_in
from tests.support.api_client import STRONG_PASSWORD, Mailbox

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _code_after(secret: str, used: set[str]) -> str:
    """A TOTP code not used before (the platform refuses replays): wait for the next step if needed."""
    totp = pyotp.TOTP(secret)
    for offset in (0, 30):
        code = totp.at(time.time() + offset)
        if code not in used:
            used.add(code)
            return code
    raise AssertionError("no fresh TOTP code")


def _enrol_totp(page: Page, password: str, used: set[str]) -> str:
    page.goto("/profile")
    section = page.locator("#two-factor-authentication")
    section.get_by_role("button", name="Set up two-factor authentication").click()
    section.get_by_label("Current password").fill(password)
    section.get_by_role("button", name="Continue").click()
    secret = section.get_by_test_id("totp-secret").inner_text().strip()
    section.get_by_label("Authentication code").fill(_code_after(secret, used))
    section.get_by_role("button", name="Enable").click()
    codes = section.get_by_test_id("recovery-codes")
    expect(codes).to_be_visible()
    assert len(codes.locator("li").all()) == 10
    section.get_by_role("button", name="I have saved these codes").click()
    expect(section.get_by_text("Enabled", exact=True).first).to_be_visible()
    return secret


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/signin"))


def test_professional_signs_up_enrols_totp_and_is_approved_by_an_admin(browser: Browser, live_platform, e2e_smtp):
    mailbox = Mailbox(e2e_smtp)
    email = f"dr-{uuid.uuid4().hex[:8]}@example.org"
    used: set[str] = set()

    doctor = new_context(browser, live_platform.url).new_page()
    doctor.goto("/signup")
    doctor.get_by_label("Full name").fill("Dr Grace Hopper")
    doctor.get_by_label("Email").fill(email)
    doctor.get_by_label("Password").fill(STRONG_PASSWORD)
    doctor.get_by_label("Health professional").check()
    doctor.get_by_role("button", name="Create account").click()
    expect(doctor.get_by_text("Check your email")).to_be_visible()

    token = mailbox.token(email, "verify", "/verify-email")
    doctor.goto(f"/verify-email?token={token}")
    expect(doctor.get_by_text(re.compile("verified", re.I)).first).to_be_visible()

    sign_in(doctor, email, STRONG_PASSWORD)
    expect(doctor.get_by_text("Your account is awaiting approval")).to_be_visible()

    doctor.goto("/profile")
    certificate = doctor.locator("#medical-certificate")
    certificate.get_by_label("Medical certificate").set_input_files(
        {"name": "certificate.pdf", "mimeType": "application/pdf", "buffer": PDF})
    certificate.get_by_role("button", name="Upload certificate").click()
    expect(certificate.get_by_text(re.compile("pending", re.I)).first).to_be_visible()

    secret = _enrol_totp(doctor, STRONG_PASSWORD, used)
    _sign_out(doctor)

    sign_in(doctor, email, STRONG_PASSWORD)
    expect(doctor).to_have_url(re.compile(r"/signin/2fa"))
    doctor.get_by_label("Authentication code").fill(_code_after(secret, used))
    doctor.get_by_role("button", name="Verify").click()
    expect(doctor.get_by_text("Your account is awaiting approval")).to_be_visible()

    # The demo admin must enrol TOTP before admin pages open, then sign in with a code.
    admin_email, admin_password = live_platform.logins["admin"]
    admin = new_context(browser, live_platform.url).new_page()
    sign_in(admin, admin_email, admin_password)
    admin.goto("/admin/certificates")
    expect(admin.get_by_text(re.compile("two-factor", re.I)).first).to_be_visible()
    admin_used: set[str] = set()
    admin_secret = _enrol_totp(admin, admin_password, admin_used)
    _sign_out(admin)
    sign_in(admin, admin_email, admin_password)
    admin.get_by_label("Authentication code").fill(_code_after(admin_secret, admin_used))
    admin.get_by_role("button", name="Verify").click()
    admin.get_by_role("link", name="Certificates").click()
    row = admin.get_by_role("listitem").filter(has_text=email)
    expect(row).to_be_visible()
    row.get_by_role("button", name="Approve").click()
    expect(row.get_by_role("button", name="Approve")).to_have_count(0)

    mailbox.wait_for(email, "approved")
    doctor.reload()
    expect(doctor.get_by_text("Your account is awaiting approval")).to_have_count(0)
    doctor.goto("/profile")
    expect(doctor.locator("#medical-certificate").get_by_text(re.compile("approved", re.I)).first).to_be_visible()


@pytest.mark.parametrize("path", ["/", "/signin"])
def test_plain_http_redirects_to_the_https_origin(live_platform, path):
    import requests

    http_port = int(re.search(r"HTTP on port (\d+)", live_platform.output.read_text()).group(1))
    r = requests.get(f"http://127.0.0.1:{http_port}{path}", allow_redirects=False, timeout=10)
    assert r.status_code == 308
    assert r.headers["Location"] == f"{live_platform.url}{path}"
