"""An authenticator app for tests whose codes are never replays, so tests never race the 30-second clock."""

from __future__ import annotations

import time

import pyotp

STEP = 30
_MARGIN = 2.0  # seconds before a step ends when its predecessor's code is no longer used


class Authenticator:
    """Hands out codes for strictly increasing time steps within the server's ±1-step window.

    A code for step n is accepted while the server is at step n-1, n or n+1, and once step n is
    used no code of step ≤ n is. So a fresh enrolment leaves three codes per step (previous,
    current, next); when they run out `code()` waits for the clock instead of sending a replay.
    """

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.totp = pyotp.TOTP(secret)
        self.last_step: int | None = None

    def code(self) -> str:
        """The oldest code the server surely accepts that is newer than every code handed out."""
        while True:
            now = time.time()
            step = int(now // STEP)
            oldest = step - 1 if STEP - now % STEP > _MARGIN else step
            candidate = oldest if self.last_step is None else max(self.last_step + 1, oldest)
            if candidate <= step + 1:
                self.last_step = candidate
                return self.totp.generate_otp(candidate)
            time.sleep(STEP - now % STEP + 0.05)

    def last_code(self) -> str:
        """The code handed out last (to replay it on purpose)."""
        assert self.last_step is not None, "no code handed out yet"
        return self.totp.generate_otp(self.last_step)

    def wrong_code(self) -> str:
        """A well-formed code that matches no step in the window."""
        step = int(time.time() // STEP)
        valid = {self.totp.generate_otp(step + d) for d in range(-2, 3)}
        return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in valid)


def enrol(account) -> Authenticator:
    """Turn TOTP on for a signed-in `tests.support.api_client.Account` through the API."""
    r = account.client.post("/api/auth/2fa/totp/setup", json={"password": account.password})
    assert r.status_code == 200, r.text
    app = Authenticator(r.json()["secret"])
    r = account.client.post("/api/auth/2fa/totp/confirm", json={"code": app.code()})
    assert r.status_code == 200, r.text
    account.totp_secret = app.secret
    account.extra["recovery_codes"] = r.json()["recovery_codes"]
    account.extra["authenticator"] = app
    return app
