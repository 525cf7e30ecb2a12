"""Second factor: TOTP (RFC 6238) with replay protection, and single-use recovery codes."""

from __future__ import annotations

import io
import secrets
import time

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from functions.auth import events
from functions.common.accounts.tables import RecoveryCode, User
from functions.common.platform.db import utcnow
from functions.common.platform.errors import Conflict, NotAuthenticated
from functions.common.security import passwords, throttle
from functions.common.security.crypto import envelope, token_hash

ISSUER = "MedCloudCare"
RECOVERY_CODES = 10
_AAD = b"totp-secret"


def _seal(secret: str, user: User) -> bytes:
    return envelope().seal(secret.encode(), aad=_AAD + user.id.bytes)


def _open(blob: bytes, user: User) -> str:
    return envelope().open(blob, aad=_AAD + user.id.bytes).decode()


def setup(db: Session, user: User, *, password: str, client_ip: str) -> dict:
    """Start enrolment: a new secret, shown once as text and QR code, kept until confirmed.

    An account with a password proves it first; one that signs in only through a provider has none."""
    if user.password_hash:
        passwords.require_password(db, user, password, client_ip=client_ip)
    if user.totp_enabled:
        raise Conflict("Two-factor authentication is already on; disable it first to re-enrol.",
                       code="already_enabled")
    secret = pyotp.random_base32()
    user.totp_pending_enc = _seal(secret, user)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    buf = io.BytesIO()
    qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage).save(buf)
    return {"secret": secret, "otpauth_uri": uri, "qr_svg": buf.getvalue().decode()}


def _matching_counter(secret: str, code: str) -> int | None:
    """The time step a code belongs to (±1 step of clock drift), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now = int(time.time())
    for drift in (0, -1, 1):
        counter = totp.timecode(now) + drift
        if secrets.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def _refused(db: Session, user: User, action: str, message: str, *, code: str, client_ip: str) -> NotAuthenticated:
    """Audit a wrong code and keep that record although the request fails; the error to raise."""
    events.record(db, action, user, outcome="failure", client_ip=client_ip)
    db.commit()
    return NotAuthenticated(message, code=code)


def _check_code(db: Session, user: User, secret: str, code: str, *, client_ip: str) -> int:
    counter = _matching_counter(secret, code)
    if counter is None:
        raise _refused(db, user, "totp_failed", "That code is not right; check your authenticator app's clock.",
                       code="invalid_code", client_ip=client_ip)
    if user.totp_last_counter is not None and counter <= user.totp_last_counter:
        raise _refused(db, user, "totp_replay", "That code was already used; wait for the next one.",
                       code="code_replayed", client_ip=client_ip)
    return counter


def confirm(db: Session, user: User, code: str, *, client_ip: str) -> dict:
    """Finish enrolment with a first code; hand out the recovery codes, once."""
    if user.totp_enabled:
        raise Conflict("Two-factor authentication is already on.", code="already_enabled")
    if user.totp_pending_enc is None:
        raise Conflict("Start the set-up first.", code="no_setup")
    secret = _open(user.totp_pending_enc, user)
    with throttle.attempt(db, email=user.email, ip=client_ip):
        counter = _check_code(db, user, secret, code, client_ip=client_ip)
    user.totp_secret_enc, user.totp_pending_enc = user.totp_pending_enc, None
    user.totp_enabled, user.totp_last_counter = True, counter
    codes = new_recovery_codes(db, user)
    events.record(db, "totp_enabled", user, client_ip=client_ip)
    return {"recovery_codes": codes}


def new_recovery_codes(db: Session, user: User) -> list[str]:
    """Replace the user's recovery codes; only hashes are kept."""
    db.query(RecoveryCode).filter(RecoveryCode.user_id == user.id).delete()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    db.add_all(RecoveryCode(user_id=user.id, code_hash=token_hash(c)) for c in codes)
    return codes


def require_second_factor(db: Session, user: User, *, code: str | None, recovery_code: str | None = None,
                          client_ip: str) -> None:
    """A current TOTP code or an unused recovery code of an enrolled user (sign-in's second step, turning TOTP off,
    new recovery codes), throttled with sign-in: a wrong one counts as a failed sign-in per account and per client
    address (429 with Retry-After once either is spent, even for a right one); a right one forgives the account."""
    with throttle.attempt(db, email=user.email, ip=client_ip):
        if code:
            _verify_code(db, user, code, client_ip=client_ip)
        elif recovery_code:
            _use_recovery_code(db, user, recovery_code, client_ip=client_ip)
        else:
            raise NotAuthenticated("Enter the code from your authenticator app or a recovery code.",
                                   code="invalid_code")


def _verify_code(db: Session, user: User, code: str, *, client_ip: str) -> None:
    """Accept a current, unused TOTP code for an enrolled user, or raise."""
    counter = _check_code(db, user, _open(user.totp_secret_enc, user), code, client_ip=client_ip)
    # Conditional update: two requests racing with the same code cannot both win.
    won = db.execute(
        update(User).where(User.id == user.id,
                           (User.totp_last_counter.is_(None)) | (User.totp_last_counter < counter))
        .values(totp_last_counter=counter)
    ).rowcount
    if not won:
        raise NotAuthenticated("That code was already used; wait for the next one.", code="code_replayed")
    user.totp_last_counter = counter


def _use_recovery_code(db: Session, user: User, code: str, *, client_ip: str) -> None:
    """Accept one of the user's unused recovery codes, once, or raise."""
    normalised = code.strip().lower()
    row = db.scalar(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == token_hash(normalised),
        RecoveryCode.used_at.is_(None)).with_for_update())
    if row is None:
        raise _refused(db, user, "recovery_code_failed", "That recovery code is not right or was already used.",
                       code="invalid_code", client_ip=client_ip)
    row.used_at = utcnow()
    events.record(db, "recovery_code_used", user, client_ip=client_ip)


def _require_password_and_code(db: Session, user: User, *, password: str, code: str, client_ip: str) -> None:
    """What changing an enrolled account's second factor asks: the password, then a current code."""
    passwords.require_password(db, user, password, client_ip=client_ip)
    if not user.totp_enabled:
        raise Conflict("Two-factor authentication is not on.", code="not_enabled")
    require_second_factor(db, user, code=code, client_ip=client_ip)


def disable(db: Session, user: User, *, password: str, code: str, client_ip: str) -> dict:
    """Turn TOTP off, proven by the password and a current code."""
    _require_password_and_code(db, user, password=password, code=code, client_ip=client_ip)
    user.totp_enabled, user.totp_secret_enc, user.totp_pending_enc = False, None, None
    db.query(RecoveryCode).filter(RecoveryCode.user_id == user.id).delete()
    events.record(db, "totp_disabled", user, client_ip=client_ip)
    return {"status": "disabled"}


def replace_recovery_codes(db: Session, user: User, *, password: str, code: str, client_ip: str) -> dict:
    """New recovery codes in place of the old ones, proven by the password and a current code."""
    _require_password_and_code(db, user, password=password, code=code, client_ip=client_ip)
    events.record(db, "recovery_codes_replaced", user, client_ip=client_ip)
    return {"recovery_codes": new_recovery_codes(db, user)}
