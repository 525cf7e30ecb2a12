"""Social sign-in (functions/auth/oauth.py) against a local OpenID provider: the browser round trip, sign-up of a
new account, linking an existing one only with its password, and the ways the round trip must fail."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import select

from tests.support.api_client import STRONG_PASSWORD, Account, AccountFactory, ApiClient, Mailbox
from tests.support.authenticator import enrol
from tests.support.oidc_provider import OMITTED, OIDCProvider
from tests.support.problem import assert_problem
from tests.support.records import audit_events, scalars, user_row

START = "/api/auth/oauth/testidp/start"
# `email_verified` claims that do not verify an email: only the JSON boolean true does.
NOT_VERIFIED = pytest.mark.parametrize("claim", [False, "false", "true", 1, OMITTED],
                                       ids=["false", "string false", "string true", "number 1", "missing"])


def new_identity(idp: OIDCProvider, *, email: str | None = None, verified: Any = True,
                 name: str = "Rosalind Franklin") -> str:
    subject = f"sub-{uuid.uuid4().hex}"
    idp.add_user(subject, email=email or f"social-{uuid.uuid4().hex[:10]}@example.org", name=name,
                 email_verified=verified)
    return subject


def to_provider(client: ApiClient) -> str:
    r = client.get(START)
    assert r.status_code == 302, r.text
    return r.headers["Location"]


def provider_answer(idp: OIDCProvider, subject: str, authorize_url: str) -> str:
    """What the provider's sign-in page does for a user already signed in there: redirect back with a code."""
    idp.login_as(subject)
    r = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    return r.headers["Location"]


def land(client: ApiClient, callback_url: str) -> str:
    r = client.get(callback_url)
    assert r.status_code == 302, r.text
    location = urlsplit(r.headers["Location"])
    return location.path + (f"?{location.query}" if location.query else "")


def social_login(client: ApiClient, idp: OIDCProvider, subject: str) -> str:
    """Play the browser through start → provider → callback; return the portal path it lands on."""
    return land(client, provider_answer(idp, subject, to_provider(client)))


def identities(subject: str) -> list:
    from functions.common.accounts.tables import OAuthIdentity

    return scalars(select(OAuthIdentity).where(OAuthIdentity.provider == "testidp",
                                               OAuthIdentity.subject == subject))


def signed_up(client: ApiClient, idp: OIDCProvider, role: str = "researcher") -> tuple[str, dict]:
    """A new account created through social sign-in; returns its subject and user."""
    subject = new_identity(idp)
    assert social_login(client, idp, subject) == "/oauth/complete"
    r = client.post("/api/auth/oauth/complete-signup", json={"name": "Rosalind Franklin", "role": role})
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    return subject, r.json()["user"]


# ---------------------------------------------------------------- providers and the start of the round trip
def test_configured_providers_are_listed(client: ApiClient) -> None:
    r = client.get("/api/auth/oauth/providers")
    assert r.status_code == 200 and r.json() == {"items": [{"name": "testidp", "display_name": "Test IdP"}]}


def test_unknown_provider_is_not_found(client: ApiClient) -> None:
    assert_problem(client.get("/api/auth/oauth/nope/start"), 404, "unknown_provider")
    assert_problem(client.get("/api/auth/oauth/nope/callback?code=x&state=y"), 404, "unknown_provider")


def test_start_sends_the_browser_to_the_provider_with_pkce_state_and_nonce(client: ApiClient,
                                                                          oidc_provider: OIDCProvider) -> None:
    r = client.get(START)
    assert r.status_code == 302
    url = urlsplit(r.headers["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == oidc_provider.issuer + "/authorize"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["redirect_uri"] == client.origin + "/api/auth/oauth/testidp/callback"
    assert query["client_id"] == oidc_provider.client_id and query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] and query["nonce"]
    assert "openid" in query["scope"].split() and query["state"]
    state_cookie = next(h for h in r.raw.headers.getlist("Set-Cookie") if h.startswith("mcc_oauth_state="))
    assert "HttpOnly" in state_cookie and "SameSite=Lax" in state_cookie and "Path=/api/auth" in state_cookie
    assert query["state"] not in state_cookie and query["nonce"] not in state_cookie, "the cookie is sealed"


# ---------------------------------------------------------------- sign-up and sign-in
def test_first_social_login_creates_an_account_with_the_chosen_role(client: ApiClient,
                                                                    oidc_provider: OIDCProvider) -> None:
    subject = new_identity(oidc_provider, name="Rosalind Franklin")
    assert social_login(client, oidc_provider, subject) == "/oauth/complete"
    assert_problem(client.get("/api/auth/me"), 401, "not_authenticated")
    pending = client.get("/api/auth/oauth/pending")
    assert pending.status_code == 200
    email = pending.json()["email"]
    assert pending.json() == {"kind": "signup", "email": email, "name": "Rosalind Franklin", "provider": "Test IdP"}

    r = client.post("/api/auth/oauth/complete-signup", json={"name": "Dr Rosalind Franklin",
                                                              "role": "health_professional"})
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    me = client.get("/api/auth/me").json()
    assert (me["email"], me["name"], me["role"], me["status"], me["email_verified"]) == (
        email, "Dr Rosalind Franklin", "health_professional", "pending", True)
    assert user_row(email).password_hash is None
    assert [i.user_id for i in identities(subject)] == [uuid.UUID(me["id"])]
    assert_problem(client.get("/api/auth/oauth/pending"), 404, "no_pending")


def test_second_social_login_of_the_same_subject_signs_in(new_client, oidc_provider: OIDCProvider) -> None:
    subject, user = signed_up(new_client(), oidc_provider)
    browser = new_client()
    assert social_login(browser, oidc_provider, subject) == "/"
    assert browser.get("/api/auth/me").json()["id"] == user["id"]
    logins = audit_events("login", actor_id=user["id"])
    assert logins[-1].details["amr"] == ["oauth"]


@pytest.mark.parametrize("body", [{"name": "Eve", "role": "admin"}, {"name": " ", "role": "researcher"},
                                  {"role": "researcher"}])
def test_complete_signup_validates_name_and_role(client: ApiClient, oidc_provider: OIDCProvider,
                                                 body: dict) -> None:
    assert social_login(client, oidc_provider, new_identity(oidc_provider)) == "/oauth/complete"
    assert_problem(client.post("/api/auth/oauth/complete-signup", json=body), 422, "validation")
    assert_problem(client.get("/api/auth/me"), 401, "not_authenticated")


def test_complete_signup_without_a_pending_sign_in_is_not_found(client: ApiClient) -> None:
    r = client.post("/api/auth/oauth/complete-signup", json={"name": "Eve", "role": "researcher"})
    assert_problem(r, 404, "no_pending")
    assert_problem(client.get("/api/auth/oauth/pending"), 404, "no_pending")


@NOT_VERIFIED
def test_unverified_provider_email_of_a_new_account_must_be_verified_by_mail(client: ApiClient,
                                                                            oidc_provider: OIDCProvider,
                                                                            mailbox: Mailbox, claim: Any) -> None:
    email = f"unverified-{uuid.uuid4().hex[:10]}@example.org"
    assert social_login(client, oidc_provider, new_identity(oidc_provider, email=email, verified=claim)) == \
        "/oauth/complete"
    r = client.post("/api/auth/oauth/complete-signup", json={"name": "Nettie Stevens", "role": "researcher"})
    assert r.status_code == 200 and r.json() == {"status": "verification_sent"}
    assert_problem(client.get("/api/auth/me"), 401, "not_authenticated")
    assert mailbox.token(email, "verify", "/verify-email")
    assert user_row(email).email_verified is False


# ---------------------------------------------------------------- linking to an existing account
def test_existing_account_is_linked_only_with_its_password(factory: AccountFactory, new_client,
                                                           oidc_provider: OIDCProvider) -> None:
    account = factory.create("researcher")
    subject = new_identity(oidc_provider, email=account.email.upper())
    browser = new_client()
    assert social_login(browser, oidc_provider, subject) == "/oauth/complete"
    assert browser.get("/api/auth/oauth/pending").json()["kind"] == "link"

    wrong = browser.post("/api/auth/oauth/confirm-link", json={"password": "Not-the-password-at-all-99"})
    assert_problem(wrong, 401, "invalid_credentials")
    assert identities(subject) == []
    assert_problem(browser.get("/api/auth/me"), 401, "not_authenticated")

    r = browser.post("/api/auth/oauth/confirm-link", json={"password": STRONG_PASSWORD})
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    assert r.json()["user"]["id"] == account.id
    assert [str(i.user_id) for i in identities(subject)] == [account.id]
    later = new_client()
    assert social_login(later, oidc_provider, subject) == "/"
    assert later.get("/api/auth/me").json()["id"] == account.id


def test_linking_is_throttled_like_sign_in(factory: AccountFactory, client: ApiClient, oidc_provider: OIDCProvider,
                                         limits) -> None:
    """The link's password step is a sign-in to the existing account: guessing it spends the same budget."""
    account = factory.create("researcher")
    subject = new_identity(oidc_provider, email=account.email)
    assert social_login(client, oidc_provider, subject) == "/oauth/complete"
    for _ in range(limits.login_max_failures_account):
        wrong = client.post("/api/auth/oauth/confirm-link", json={"password": "Not-the-password-at-all-99"})
        assert_problem(wrong, 401, "invalid_credentials")

    locked = client.post("/api/auth/oauth/confirm-link", json={"password": STRONG_PASSWORD})
    assert_problem(locked, 429, "too_many_attempts")
    assert 0 < int(locked.headers["Retry-After"]) <= limits.login_window
    assert identities(subject) == []
    assert len(audit_events("reauth", actor_id=account.id)) == limits.login_max_failures_account


def test_link_cannot_create_a_second_account(factory: AccountFactory, client: ApiClient,
                                             oidc_provider: OIDCProvider) -> None:
    account = factory.create("researcher")
    assert social_login(client, oidc_provider, new_identity(oidc_provider, email=account.email)) == "/oauth/complete"
    r = client.post("/api/auth/oauth/complete-signup", json={"name": "Mallory", "role": "researcher"})
    assert_problem(r, 409, "email_taken")
    assert user_row(account.email).name == "Test researcher"


@NOT_VERIFIED
def test_unverified_provider_email_matching_an_account_is_refused(factory: AccountFactory, client: ApiClient,
                                                                  oidc_provider: OIDCProvider, claim: Any) -> None:
    account = factory.create("researcher")
    subject = new_identity(oidc_provider, email=account.email, verified=claim)
    assert social_login(client, oidc_provider, subject) == "/signin?error=oauth_email_unverified"
    assert_problem(client.get("/api/auth/oauth/pending"), 404, "no_pending")
    assert identities(subject) == []


def test_deactivated_account_cannot_sign_in_socially(new_client, oidc_provider: OIDCProvider,
                                                     admin: Account) -> None:
    subject, user = signed_up(new_client(), oidc_provider)
    assert admin.client.post(f"/api/auth/admin/users/{user['id']}/deactivate").status_code == 200
    browser = new_client()
    assert social_login(browser, oidc_provider, subject) == "/signin?error=account_deactivated"
    assert_problem(browser.get("/api/auth/me"), 401, "not_authenticated")


# ---------------------------------------------------------------- a round trip that must fail
def test_tampered_state_fails_the_round_trip(client: ApiClient, oidc_provider: OIDCProvider) -> None:
    subject = new_identity(oidc_provider)
    callback = urlsplit(provider_answer(oidc_provider, subject, to_provider(client)))
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    forged = urlunsplit(callback._replace(query=urlencode({**query, "state": query["state"][::-1]})))
    assert land(client, forged) == "/signin?error=oauth_failed"
    assert_problem(client.get("/api/auth/me"), 401, "not_authenticated")
    assert audit_events("oauth_login")[-1].details == {"provider": "testidp", "reason": "state_mismatch"}


def test_non_ascii_state_fails_the_round_trip_cleanly(client: ApiClient) -> None:
    to_provider(client)
    r = client.get("/api/auth/oauth/testidp/callback", params={"state": "\u00e9tat", "code": "x"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/signin?error=oauth_failed")


def test_callback_without_the_state_cookie_fails(new_client, oidc_provider: OIDCProvider) -> None:
    """A login CSRF: the attacker's callback URL opened in the victim's browser."""
    attacker, victim = new_client(), new_client()
    callback = provider_answer(oidc_provider, new_identity(oidc_provider), to_provider(attacker))
    assert land(victim, callback) == "/signin?error=oauth_failed"
    assert_problem(victim.get("/api/auth/oauth/pending"), 404, "no_pending")


def test_callback_works_once(client: ApiClient, oidc_provider: OIDCProvider) -> None:
    callback = provider_answer(oidc_provider, new_identity(oidc_provider), to_provider(client))
    assert land(client, callback) == "/oauth/complete"
    assert land(client, callback) == "/signin?error=oauth_failed"


def test_callback_without_a_code_fails(client: ApiClient) -> None:
    state = parse_qs(urlsplit(to_provider(client)).query)["state"][0]
    r = client.get("/api/auth/oauth/testidp/callback", params={"state": state, "error": "access_denied"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/signin?error=oauth_failed")


# ---------------------------------------------------------------- two-factor
def test_social_sign_in_of_a_user_with_totp_still_needs_the_code(new_client,
                                                                 oidc_provider: OIDCProvider) -> None:
    first = new_client()
    subject, user = signed_up(first, oidc_provider)
    app = enrol(Account(user["id"], user["email"], "no password: a social-only account", "researcher", first))

    browser = new_client()
    assert social_login(browser, oidc_provider, subject) == "/signin/2fa"
    assert_problem(browser.get("/api/auth/me"), 401, "not_authenticated")
    assert {c.name for c in browser.cookies} == {"mcc_mfa"}
    r = browser.post("/api/auth/login/mfa", json={"code": app.code()})
    assert r.status_code == 200 and r.json()["user"]["id"] == user["id"], r.text
    assert browser.get("/api/auth/me").status_code == 200
    assert audit_events("login", actor_id=user["id"])[-1].details["amr"] == ["oauth", "otp"]
