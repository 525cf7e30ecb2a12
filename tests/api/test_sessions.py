"""Sessions (functions/auth/sessions.py and the token checks of functions/common/http/): cookies and CSRF,
rotating refresh tokens with reuse detection, sign-out, the session list, and forged or stale access tokens."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.support.api_client import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    SESSION_COOKIES,
    STRONG_PASSWORD,
    AccountFactory,
    ApiClient,
)
from tests.support.authenticator import enrol
from tests.support.problem import assert_problem
from tests.support.records import age_refresh_token_past_grace, audit_events


def drop_cookie(client: ApiClient, name: str) -> None:
    """Forget one cookie, as a browser does when it expires."""
    for cookie in list(client.cookies):
        if cookie.name == name:
            client.cookies.clear(cookie.domain, cookie.path, cookie.name)


def api_login(factory: AccountFactory, email: str) -> tuple[ApiClient, dict]:
    c = factory.client()
    r = c.post("/api/auth/login", json={"email": email, "password": STRONG_PASSWORD, "client": "api"})
    assert r.status_code == 200, r.text
    return c, r.json()


def api_refresh(client: ApiClient, refresh_token: str):
    return client.post("/api/auth/token/refresh", json={"refresh_token": refresh_token})


def access_token(claims: dict, *, key: ECKey | None = None, kid: str | None = None) -> str:
    """Sign an access token as the auth function would, with any claims (and key) the test chooses."""
    from functions.common.platform.config import get_settings
    from functions.common.security.tokens import AUDIENCE, signing_keys

    settings = get_settings()
    key = key or signing_keys(settings.keys_path).current
    now = int(time.time())
    body = {"iss": settings.public_url, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300,
            "jti": uuid.uuid4().hex, "typ": "access", "role": "researcher", "status": "active", "amr": ["pwd"],
            **claims}
    return jwt.encode({"alg": "ES256", "kid": kid or key.kid, "typ": "JWT"}, body, key)


@pytest.fixture(scope="module")
def identity(researcher) -> dict:
    """The `sub` and `sid` claims of the researcher's browser session."""
    current = [s for s in researcher.client.get("/api/auth/sessions").json()["items"] if s["current"]]
    return {"sub": researcher.id, "sid": current[0]["id"]}


def current_session(client: ApiClient) -> str:
    return next(s["id"] for s in client.get("/api/auth/sessions").json()["items"] if s["current"])


def set_cookies(response) -> dict[str, str]:
    """The Set-Cookie headers of an answer, by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.raw.headers.getlist("Set-Cookie")}


# ---------------------------------------------------------------- cookies and CSRF
def test_browser_login_sets_httponly_secure_token_cookies_and_a_readable_csrf_cookie(researcher,
                                                                                     factory: AccountFactory) -> None:
    c = factory.client()
    r = c.post("/api/auth/login", json={"email": researcher.email, "password": STRONG_PASSWORD})
    assert r.json()["status"] == "ok" and "access_token" not in r.json() and "refresh_token" not in r.json()
    cookies = set_cookies(r)
    assert set(cookies) == set(SESSION_COOKIES)
    for name, header in cookies.items():
        assert "Secure" in header and "SameSite=Strict" in header and "Domain" not in header, header
        assert ("HttpOnly" in header) == (name != CSRF_COOKIE), header
    assert "Path=/;" in cookies[ACCESS_COOKIE] + ";" and "Path=/;" in cookies[CSRF_COOKIE] + ";"
    assert "Path=/api/auth" in cookies[REFRESH_COOKIE]


def test_the_path_wide_cookies_are_host_only_so_an_unprefixed_one_is_ignored(researcher,
                                                                            factory: AccountFactory) -> None:
    """A sibling subdomain or a plain-HTTP page can plant `mcc_access`/`mcc_csrf`, never a `__Host-` cookie."""
    c = factory.client()
    assert c.post("/api/auth/login", json={"email": researcher.email, "password": STRONG_PASSWORD}).status_code == 200
    access, csrf = c.cookies.get(ACCESS_COOKIE), c.cookies.get(CSRF_COOKIE)
    planted = factory.client()
    r = planted.get("/api/auth/me", headers={"Cookie": f"mcc_access={access}"})
    assert_problem(r, 401, "not_authenticated")
    r = c.patch("/api/auth/me", json={"name": "Mallory"},
                headers={"Cookie": f"{ACCESS_COOKIE}={access}; mcc_csrf=planted", "X-CSRF-Token": "planted"})
    assert_problem(r, 403, "csrf")
    assert c.patch("/api/auth/me", json={"name": "Test researcher"}, headers={"X-CSRF-Token": csrf}).status_code == 200


@pytest.fixture
def insecure_cookies(origin: str) -> Iterator[None]:
    """The origin configured with MCC_COOKIE_SECURE=false (plain-HTTP development) for one test."""
    from functions.common.platform.config import reset_settings

    old = os.environ.get("MCC_COOKIE_SECURE")
    os.environ["MCC_COOKIE_SECURE"] = "false"
    reset_settings()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MCC_COOKIE_SECURE", None)
        else:
            os.environ["MCC_COOKIE_SECURE"] = old
        reset_settings()


def test_without_secure_cookies_the_session_cookies_keep_their_plain_names(researcher, factory: AccountFactory,
                                                                           insecure_cookies) -> None:
    """`__Host-` cookies must be Secure: browsers drop them otherwise, so unsecured ones are named plainly."""
    c = factory.client()
    r = c.post("/api/auth/login", json={"email": researcher.email, "password": STRONG_PASSWORD})
    cookies = set_cookies(r)
    assert set(cookies) == {"mcc_access", "mcc_refresh", "mcc_csrf"}
    assert not any("Secure" in header for header in cookies.values()), cookies
    assert c.get("/api/auth/me").json()["id"] == researcher.id
    assert c.patch("/api/auth/me", json={"name": "Test researcher"}).status_code == 200  # the CSRF check reads mcc_csrf
    assert c.post("/api/auth/token/refresh").status_code == 200


def test_unsafe_cookie_request_without_csrf_header_is_refused(researcher) -> None:
    c = researcher.client
    assert_problem(c.patch("/api/auth/me", json={"name": "Mallory"}, headers={"X-CSRF-Token": None}), 403, "csrf")
    assert_problem(c.patch("/api/auth/me", json={"name": "Mallory"}, headers={"X-CSRF-Token": "forged"}), 403, "csrf")
    assert c.get("/api/auth/me").json()["name"] != "Mallory"
    assert c.patch("/api/auth/me", json={"name": "Test researcher"}).status_code == 200


def test_cross_origin_login_is_refused(researcher, client: ApiClient) -> None:
    body = {"email": researcher.email, "password": STRONG_PASSWORD}
    r = client.post("/api/auth/login", json=body, headers={"Origin": "https://evil.example"})
    assert_problem(r, 403, "csrf")
    assert ACCESS_COOKIE not in client.cookies
    assert client.post("/api/auth/login", json=body, headers={"Origin": client.origin}).status_code == 200


# ---------------------------------------------------------------- refresh rotation
def test_browser_refresh_rotates_the_token_cookies(factory: AccountFactory) -> None:
    c = factory.create("researcher").client
    before = {n: c.cookies.get(n) for n in SESSION_COOKIES}
    r = c.post("/api/auth/token/refresh")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    after = {n: c.cookies.get(n) for n in before}
    assert all(after[n] and after[n] != before[n] for n in before), (before, after)
    assert c.get("/api/auth/me").status_code == 200


def test_browser_refresh_with_an_expired_access_cookie_works_without_a_body(factory: AccountFactory) -> None:
    c = factory.create("researcher").client
    drop_cookie(c, ACCESS_COOKIE)
    assert_problem(c.get("/api/auth/me"), 401, "not_authenticated")
    r = c.post("/api/auth/token/refresh")  # what the portal sends: no body, cookies and the CSRF header
    assert r.status_code == 200, r.text
    assert c.get("/api/auth/me").status_code == 200


def test_browser_refresh_needs_the_csrf_header_and_keeps_the_token_usable(factory: AccountFactory) -> None:
    c = factory.create("researcher").client
    assert_problem(c.post("/api/auth/token/refresh", headers={"X-CSRF-Token": None}), 403, "csrf")
    drop_cookie(c, ACCESS_COOKIE)
    assert_problem(c.post("/api/auth/token/refresh", headers={"X-CSRF-Token": "forged"}), 403, "csrf")
    assert c.post("/api/auth/token/refresh").status_code == 200


def test_refresh_without_any_token_is_refused(client: ApiClient) -> None:
    assert_problem(client.post("/api/auth/token/refresh"), 401, "invalid_token")
    assert_problem(api_refresh(client, "x" * 43), 401, "invalid_token")


def test_api_client_gets_tokens_in_the_body_and_uses_bearer(researcher, factory: AccountFactory) -> None:
    c, first = api_login(factory, researcher.email)
    assert first["token_type"] == "Bearer" and first["expires_in"] > 0 and first["user"]["id"] == researcher.id
    assert not c.cookies, "API clients get no cookies"
    c.bearer = first["access_token"]
    assert c.get("/api/auth/me").json()["id"] == researcher.id
    assert c.patch("/api/auth/me", json={"name": "Test researcher"}).status_code == 200  # Bearer needs no CSRF

    r = api_refresh(c, first["refresh_token"])
    assert r.status_code == 200
    second = r.json()
    assert second["status"] == "ok" and second["token_type"] == "Bearer"
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    c.bearer = second["access_token"]
    assert c.get("/api/auth/me").status_code == 200


def test_reused_refresh_token_revokes_the_whole_session_and_is_audited(researcher,
                                                                       factory: AccountFactory) -> None:
    c, pair = api_login(factory, researcher.email)
    c.bearer = pair["access_token"]
    sid = current_session(c)
    stolen = pair["refresh_token"]
    newest = api_refresh(c, stolen).json()["refresh_token"]
    newest = api_refresh(c, newest).json()["refresh_token"]
    age_refresh_token_past_grace(stolen)

    assert_problem(api_refresh(c, stolen), 401, "token_reused")
    assert_problem(api_refresh(c, newest), 401, "invalid_token")
    events = audit_events("token_reuse", actor_id=researcher.id)
    assert events and events[-1].details == {"session": sid}
    assert events[-1].outcome == "failure" and events[-1].client_ip == c.address
    assert sid not in {s["id"] for s in researcher.client.get("/api/auth/sessions").json()["items"]}


def test_two_refreshes_of_one_token_at_once_both_get_a_pair_of_the_same_session(factory: AccountFactory) -> None:
    """The portal and the viewer renewing the session together: the slower one is not taken for a thief."""
    account = factory.create("researcher")
    c, pair = api_login(factory, account.email)
    c.bearer = pair["access_token"]
    sid = current_session(c)
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda client: api_refresh(client, pair["refresh_token"]),
                                [c, factory.client()]))
    assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
    pairs = [r.json() for r in answers]
    assert pairs[0]["refresh_token"] != pairs[1]["refresh_token"]
    for fresh in pairs:
        c.bearer = fresh["access_token"]
        assert current_session(c) == sid
        assert api_refresh(c, fresh["refresh_token"]).status_code == 200
    assert not audit_events("token_reuse", actor_id=account.id)


def test_a_token_used_within_the_grace_window_is_refused_once_the_session_ended(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    c, pair = api_login(factory, account.email)
    assert api_refresh(c, pair["refresh_token"]).status_code == 200
    c.bearer = pair["access_token"]
    assert c.post("/api/auth/logout").status_code == 200
    assert_problem(api_refresh(c, pair["refresh_token"]), 401, "invalid_token")


def test_a_token_reused_after_the_grace_window_still_ends_the_session(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    c, pair = api_login(factory, account.email)
    rotated = api_refresh(c, pair["refresh_token"]).json()
    assert api_refresh(c, pair["refresh_token"]).status_code == 200  # within the window
    age_refresh_token_past_grace(pair["refresh_token"])
    assert_problem(api_refresh(c, pair["refresh_token"]), 401, "token_reused")
    assert_problem(api_refresh(c, rotated["refresh_token"]), 401, "invalid_token")
    assert len(audit_events("token_reuse", actor_id=account.id)) == 1


# ---------------------------------------------------------------- sign-out
def test_logout_ends_the_session_and_clears_the_cookies(factory: AccountFactory) -> None:
    c = factory.create("researcher").client
    refresh = c.cookies.get(REFRESH_COOKIE)
    r = c.post("/api/auth/logout")
    assert r.status_code == 200 and r.json() == {"status": "signed_out"}
    assert not set(SESSION_COOKIES) & {cookie.name for cookie in c.cookies}
    assert_problem(c.get("/api/auth/me"), 401, "not_authenticated")
    assert_problem(api_refresh(c, refresh), 401, "invalid_token")


def test_logout_all_ends_every_session_of_the_user(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    other, pair = api_login(factory, account.email)
    r = account.client.post("/api/auth/logout-all")
    assert r.status_code == 200 and r.json() == {"status": "signed_out"}
    assert_problem(api_refresh(other, pair["refresh_token"]), 401, "invalid_token")
    assert_problem(account.client.post("/api/auth/token/refresh"), 401, "invalid_token")


# ---------------------------------------------------------------- the session list
def test_sessions_list_shows_device_address_and_which_one_is_current(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    laptop = factory.login(account.email)
    script, _ = api_login(factory, account.email)
    items = laptop.get("/api/auth/sessions").json()["items"]
    assert len(items) == 3
    mine = [s for s in items if s["current"]]
    assert len(mine) == 1 and mine[0]["ip"] == laptop.address
    assert "Chrome" in mine[0]["device"] and "Linux" in mine[0]["device"]
    assert {s["ip"] for s in items} == {account.client.address, laptop.address, script.address}
    assert all(s["created_at"] and s["last_used_at"] for s in items)


def test_a_user_can_revoke_another_of_their_sessions(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    other, pair = api_login(factory, account.email)
    other_id = next(s["id"] for s in account.client.get("/api/auth/sessions").json()["items"]
                    if s["ip"] == other.address)
    assert account.client.delete(f"/api/auth/sessions/{other_id}").status_code == 204
    assert_problem(api_refresh(other, pair["refresh_token"]), 401, "invalid_token")
    assert other_id not in {s["id"] for s in account.client.get("/api/auth/sessions").json()["items"]}
    assert_problem(account.client.delete(f"/api/auth/sessions/{other_id}"), 404, "not_found")


def test_another_users_session_cannot_be_revoked(researcher, factory: AccountFactory) -> None:
    intruder = factory.create("researcher")
    victim, pair = api_login(factory, researcher.email)
    victim_session = next(s["id"] for s in researcher.client.get("/api/auth/sessions").json()["items"]
                          if s["ip"] == victim.address)
    assert_problem(intruder.client.delete(f"/api/auth/sessions/{victim_session}"), 404, "not_found")
    assert api_refresh(victim, pair["refresh_token"]).status_code == 200


def test_revoking_a_session_needs_a_session_id(researcher) -> None:
    assert_problem(researcher.client.delete(f"/api/auth/sessions/{uuid.uuid4()}"), 404, "not_found")
    assert_problem(researcher.client.delete("/api/auth/sessions/not-a-uuid"), 404, "not_found")


# ---------------------------------------------------------------- access tokens
def test_a_token_signed_with_the_platform_key_is_accepted(identity: dict, client: ApiClient) -> None:
    """The control for the forgeries below: only the changed claim or key makes them fail."""
    client.bearer = access_token(identity)
    assert client.get("/api/auth/me").json()["id"] == identity["sub"]


def test_expired_access_token_asks_for_a_refresh(identity: dict, client: ApiClient) -> None:
    now = int(time.time())
    client.bearer = access_token({**identity, "iat": now - 900, "nbf": now - 900, "exp": now - 60})
    assert_problem(client.get("/api/auth/me"), 401, "token_expired")


@pytest.mark.parametrize("claims", [
    {"aud": "another-service"},
    {"iss": "https://evil.example"},
    {"typ": "mfa"},
    {"sub": "not-a-uuid"},
], ids=["audience", "issuer", "type", "subject"])
def test_access_token_with_foreign_claims_is_invalid(identity: dict, client: ApiClient, claims: dict) -> None:
    client.bearer = access_token({**identity, **claims})
    assert_problem(client.get("/api/auth/me"), 401, "invalid_token")


def test_token_signed_by_another_key_is_invalid(identity: dict, client: ApiClient) -> None:
    from functions.common.platform.config import get_settings
    from functions.common.security.tokens import signing_keys

    stranger = ECKey.generate_key("P-256", private=True)
    client.bearer = access_token(identity, key=stranger, kid=stranger.thumbprint())
    assert_problem(client.get("/api/auth/me"), 401, "invalid_token")
    client.bearer = access_token(identity, key=stranger, kid=signing_keys(get_settings().keys_path).current.kid)
    assert_problem(client.get("/api/auth/me"), 401, "invalid_token")


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_malformed_bearer_token_is_invalid(client: ApiClient, token: str) -> None:
    r = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(r, 401, "invalid_token" if token else "not_authenticated")


def test_mfa_ticket_is_not_an_access_token(factory: AccountFactory) -> None:
    account = factory.create("researcher")
    enrol(account)
    c = factory.client()
    r = c.post("/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD, "client": "api"})
    assert r.json()["status"] == "mfa_required" and "access_token" not in r.json()
    c.bearer = r.json()["mfa_token"]
    assert_problem(c.get("/api/auth/me"), 401, "invalid_token")
    assert_problem(c.get("/api/auth/sessions"), 401, "invalid_token")

