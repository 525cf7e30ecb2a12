"""Test clients: a browser-like HTTPS client (cookies + CSRF), a mailbox, and an account factory."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

import pyotp
import requests
from mcc_local.smtp_sink import SmtpSink
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

STRONG_PASSWORD = "Velvet-otter-climbs-27-glaciers"
# The session's cookies as a browser holds them on the HTTPS origin (MCC_COOKIE_SECURE, the default).
ACCESS_COOKIE = "__Host-mcc_access"
CSRF_COOKIE = "__Host-mcc_csrf"
REFRESH_COOKIE = "mcc_refresh"
SESSION_COOKIES = (ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE)
_addresses = itertools.count(1)
# What a browser does when a kept-alive connection was closed by the server as it was reused (gunicorn closes
# idle ones after 2 s): a safe request is sent again on a new connection. Statuses are never retried here.
_RETRY = Retry(total=3, connect=3, read=2, status=0, other=0, allowed_methods=frozenset({"GET", "HEAD", "OPTIONS"}),
               backoff_factor=0.1, raise_on_status=False, respect_retry_after_header=False)


def documentation_address() -> str:
    """A distinct documentation-range address (RFC 5737) per client, sent only as X-Forwarded-For."""
    n = next(_addresses)
    return f"198.51.{(n // 250) % 250}.{n % 250 + 1}"


class ApiClient(requests.Session):
    """A browser-like client: keeps cookies, sends the CSRF header, has its own client address."""

    def __init__(self, origin: str, *, ca: str, address: str | None = None) -> None:
        super().__init__()
        self.origin = origin
        self.verify = ca
        self.trust_env = False  # the environment's CA bundle would override our CA
        self.address = address or documentation_address()
        self.headers["X-Forwarded-For"] = self.address
        self.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36"
        self.bearer: str | None = None
        self.mount("https://", HTTPAdapter(max_retries=_RETRY))
        self.mount("http://", HTTPAdapter(max_retries=_RETRY))

    def request(self, method: str, url: str, *args, **kwargs) -> requests.Response:  # type: ignore[override]
        if url.startswith("/"):
            url = self.origin + url
        headers = dict(kwargs.pop("headers", None) or {})
        csrf = self.cookies.get(CSRF_COOKIE) or self.cookies.get("mcc_csrf")  # the latter: MCC_COOKIE_SECURE=false
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"} and csrf and "X-CSRF-Token" not in headers:
            headers["X-CSRF-Token"] = csrf
        if self.bearer and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.bearer}"
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, *args, headers=headers, **kwargs)

    def get(self, url: str, **kwargs) -> requests.Response:  # type: ignore[override]
        # requests.Session.get would pass allow_redirects=True; tests follow redirects by hand.
        kwargs.setdefault("allow_redirects", False)
        return self.request("GET", url, **kwargs)


class Mailbox:
    """Reads what the platform mailed through the real SMTP server of the tests."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    def messages_to(self, address: str) -> list:
        return [m for m in self.sink.messages if address.lower() in str(m["To"]).lower()]

    def wait_for(self, address: str, subject_part: str, *, timeout: float = 10):
        return self.sink.wait_for(
            lambda m: address.lower() in str(m["To"]).lower() and subject_part.lower() in str(m["Subject"]).lower(),
            timeout=timeout,
        )

    def token(self, address: str, subject_part: str, path: str) -> str:
        """The token of the newest link to `path` mailed to `address`."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for message in reversed(self.messages_to(address)):
                if subject_part.lower() not in str(message["Subject"]).lower():
                    continue
                body = message.get_body(preferencelist=("plain",)).get_content()
                for url in re.findall(r"https?://\S+", body):
                    parsed = urlparse(url)
                    if parsed.path == path:
                        return parse_qs(parsed.query)["token"][0]
            time.sleep(0.05)
        raise AssertionError(f"no mail with a {path} link reached {address}")


def next_code(secret: str, *, after: float | None = None) -> str:
    """A TOTP code one time step ahead, so it is never a replay of one just used."""
    return pyotp.TOTP(secret).at((after or time.time()) + 30)


@dataclass
class Account:
    id: str
    email: str
    password: str
    role: str
    client: ApiClient
    totp_secret: str | None = None
    extra: dict = field(default_factory=dict)


class AccountFactory:
    """Creates users through the real HTTP API (sign-up, mailed link, sign-in, TOTP enrolment)."""

    def __init__(self, origin: str, mailbox: Mailbox, *, ca: str) -> None:
        self.origin, self.mailbox, self.ca = origin, mailbox, ca

    def client(self) -> ApiClient:
        return ApiClient(self.origin, ca=self.ca)

    def signup(self, role: str = "researcher", *, email: str | None = None, name: str = "Test User") -> tuple[str, ApiClient]:
        email = email or f"{role}-{uuid.uuid4().hex[:10]}@example.org"
        c = self.client()
        r = c.post("/api/auth/signup", json={"email": email, "name": name, "password": STRONG_PASSWORD, "role": role})
        assert r.status_code == 202, r.text
        token = self.mailbox.token(email, "verify", "/verify-email")
        assert c.post("/api/auth/verify-email", json={"token": token}).status_code == 200
        return email, c

    def login(self, email: str, password: str = STRONG_PASSWORD, *, client: ApiClient | None = None) -> ApiClient:
        c = client or self.client()
        r = c.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text
        return c

    def enrol_totp(self, account: Account) -> str:
        c = account.client
        r = c.post("/api/auth/2fa/totp/setup", json={"password": account.password})
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        r = c.post("/api/auth/2fa/totp/confirm", json={"code": pyotp.TOTP(secret).now()})
        assert r.status_code == 200, r.text
        account.totp_secret = secret
        account.extra["recovery_codes"] = r.json()["recovery_codes"]
        return secret

    def create(self, role: str = "researcher", *, status: str = "active", totp: bool = False) -> Account:
        """A verified, signed-in account; admins are made in the database (no self-service admin)."""
        from functions.auth import accounts
        from functions.common.platform import db

        email = f"{role}-{uuid.uuid4().hex[:10]}@example.org"
        with db.session_scope() as session:
            user = accounts.create_user(session, email=email, name=f"Test {role}", role=role,
                                        password=STRONG_PASSWORD, email_verified=True, status=status)
            user_id = str(user.id)
        account = Account(user_id, email, STRONG_PASSWORD, role, self.login(email))
        if totp:
            self.enrol_totp(account)
            # A fresh sign-in that uses the second factor (admins need it for admin pages).
            c = self.client()
            r = c.post("/api/auth/login", json={"email": email, "password": STRONG_PASSWORD})
            assert r.json()["status"] == "mfa_required", r.text
            r = c.post("/api/auth/login/mfa", json={"code": next_code(account.totp_secret)})
            assert r.status_code == 200, r.text
            account.client = c
        return account

    def admin(self) -> Account:
        return self.create("admin", totp=True)
