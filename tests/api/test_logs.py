"""Logs (functions/common/platform/logs.py): what the origin logs while people sign up, sign in and reset a password
never contains a password or a token."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.support.api_client import SESSION_COOKIES, STRONG_PASSWORD, AccountFactory, ApiClient, Mailbox
from tests.support.logs import origin_output
from tests.support.records import age_refresh_token_past_grace

NEW_PASSWORD = "Quartz-heron-paints-41-lanterns"
WRONG_PASSWORD = "Amber-falcon-sings-88-rivers"


@pytest.fixture
def origin_log(origin: str) -> Iterator[Callable[[], str]]:
    with origin_output() as output:
        yield output


def test_passwords_and_tokens_never_reach_the_logs(origin_log, factory: AccountFactory, mailbox: Mailbox,
                                                   new_client) -> None:
    assert threading.current_thread().name == "MainThread"
    email = f"logs-{uuid.uuid4().hex[:10]}@example.org"
    browser: ApiClient = new_client()
    assert browser.post("/api/auth/signup", json={"email": email, "name": "Log Reader", "password": STRONG_PASSWORD,
                                                  "role": "researcher"}).status_code == 202
    verify_token = mailbox.token(email, "verify", "/verify-email")
    assert browser.post("/api/auth/verify-email", json={"token": verify_token}).status_code == 200

    assert browser.post("/api/auth/login", json={"email": email, "password": WRONG_PASSWORD}).status_code == 401
    assert browser.post("/api/auth/login", json={"email": email, "password": STRONG_PASSWORD}).status_code == 200
    browser_tokens = [browser.cookies.get(n) for n in SESSION_COOKIES]
    assert browser.post("/api/auth/token/refresh").status_code == 200
    browser_tokens += [browser.cookies.get(n) for n in SESSION_COOKIES]

    script = new_client()
    pair = script.post("/api/auth/login", json={"email": email, "password": STRONG_PASSWORD, "client": "api"}).json()
    rotated = script.post("/api/auth/token/refresh", json={"refresh_token": pair["refresh_token"]}).json()
    age_refresh_token_past_grace(pair["refresh_token"])  # a reuse then, not two clients refreshing at once
    assert script.post("/api/auth/token/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401

    assert browser.post("/api/auth/password/forgot", json={"email": email}).status_code == 202
    reset_token = mailbox.token(email, "Reset", "/reset-password")
    assert browser.post("/api/auth/password/reset", json={"token": reset_token, "password": "weakweakweak"}) \
        .status_code == 422
    assert browser.post("/api/auth/password/reset", json={"token": reset_token, "password": NEW_PASSWORD}) \
        .status_code == 200
    assert browser.post("/api/auth/login", json={"email": email, "password": NEW_PASSWORD}).status_code == 200

    log = origin_log()
    for route in ("/signup", "/verify-email", "/login", "/token/refresh", "/password/reset"):
        assert f'"route": "{route}"' in log, f"the capture missed {route}"
    secrets = {
        "password": STRONG_PASSWORD, "new password": NEW_PASSWORD, "wrong password": WRONG_PASSWORD,
        "weak password": "weakweakweak", "verification token": verify_token, "reset token": reset_token,
        "api access token": pair["access_token"], "api refresh token": pair["refresh_token"],
        "rotated access token": rotated["access_token"], "rotated refresh token": rotated["refresh_token"],
        **{f"browser cookie {i}": value for i, value in enumerate(browser_tokens)},
    }
    leaked = [name for name, value in secrets.items() if value and value in log]
    assert not leaked, f"in the logs: {leaked}"
