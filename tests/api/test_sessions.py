"""Sessions (functions/auth/sessions.py and the token checks of functions/common/http/): cookies and CSRF,
rotating refresh tokens with reuse detection, sign-out, the session list, and forged or stale access tokens."""

from __future__ import annotations

import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.support.api_client import STRONG_PASSWORD, AccountFactory, ApiClient
from tests.support.authenticator import enrol
from tests.support.problem import assert_problem
from tests.support.records import audit_events


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


# ---------------------------------------------------------------- cookies and CSRF
def test_browser_login_sets_httponly_secure_token_cookies_and_a_readable_csrf_cookie(researcher,
                                                                                     factory: AccountFactory) -> None:
    c = factory.client()
    r = c.post("/api/auth/login", json={"email": researcher.email, "password": STRONG_PASSWORD})
    assert r.json()["status"] == "ok" and "access_token" not in r.json() and "refresh_token" not in r.json()
    cookies = {h.split("=", 1)[0]: h for h in r.raw.headers.getlist("Set-Cookie")}
    assert set(cookies) == {"mcc_access", "mcc_refresh", "mcc_csrf"}
    for name, header in cookies.items():
        assert "Secure" in header and "SameSite=Strict" in header, header
        assert ("HttpOnly" in header) == (name != "mcc_csrf"), header
    assert "Path=/api/auth" in cookies["mcc_refresh"]


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
    assert "mcc_access" not in client.cookies
    assert client.post("/api/auth/login", json=body, headers={"Origin": client.origin}).status_code == 200


# ---------------------------------------------------------------- refresh rotation
def test_browser_refresh_rotates_the_token_cookies(factory: AccountFactory) -> None:
    c = factory.create("researcher").client
    before = {n: c.cookies.get(n) for n in ("mcc_access", "mcc_refresh", "mcc_csrf")}
    r = c.post("/api/auth/token/refresh")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    after = {n: c.cookies.get(n) for n in before}
    assert all(after[n] and after[n] != before[n] for n in before), (before, after)
    assert c.get("/api/auth/me").status_code == 200


def test_browser_refresh_with_an_expired_access_cookie_works_without_a_body(factory: AccountFactory) -> None:
    c = factory.create("researcher").client
    drop_cookie(c, "mcc_access")
    assert_problem(c.get("/api/auth/me"), 401, "not_authenticated")
    r = c.post("/api/auth/token/refresh")  # what the portal sends: no body, cookies and the CSRF header
    assert r.status_code == 200, r.text
    assert c.get("/api/auth/me").status_code == 200


def test_browser_refresh_needs_the_csrf_header_and_keeps_the_token_usable(factory: AccountFactory) -> None:
    c = factory.create("researcher").client
    assert_problem(c.post("/api/auth/token/refresh", headers={"X-CSRF-Token": None}), 403, "csrf")
    drop_cookie(c, "mcc_access")
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
    sid = next(s["id"] for s in c.get("/api/auth/sessions").json()["items"] if s["current"])
    stolen = pair["refresh_token"]
    newest = api_refresh(c, stolen).json()["refresh_token"]
    newest = api_refresh(c, newest).json()["refresh_token"]

    assert_problem(api_refresh(c, stolen), 401, "token_reused")
    assert_problem(api_refresh(c, newest), 401, "invalid_token")
    events = audit_events("token_reuse", actor_id=researcher.id)
    assert events and events[-1].details == {"session": sid}
    assert events[-1].outcome == "failure" and events[-1].client_ip == c.address
    assert sid not in {s["id"] for s in researcher.client.get("/api/auth/sessions").json()["items"]}


# ---------------------------------------------------------------- sign-out
def test_logout_ends_the_session_and_clears_the_cookies(factory: AccountFactory) -> None:
    c = factory.create("researcher").client
    refresh = c.cookies.get("mcc_refresh")
    r = c.post("/api/auth/logout")
    assert r.status_code == 200 and r.json() == {"status": "signed_out"}
    assert not {"mcc_access", "mcc_refresh", "mcc_csrf"} & {cookie.name for cookie in c.cookies}
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

