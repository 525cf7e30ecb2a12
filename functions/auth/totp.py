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

from functions.common import audit
from functions.common.crypto import envelope, token_hash
from functions.common.errors import Conflict, NotAuthenticated
from functions.common.http import RequestContext
from functions.common.models import RecoveryCode, User, utcnow

ISSUER = "MedCloudCare"
RECOVERY_CODES = 10
_AAD = b"totp-secret"


def _seal(secret: str, user: User) -> bytes:
    return envelope().seal(secret.encode(), aad=_AAD + user.id.bytes)


def _open(blob: bytes, user: User) -> str:
    return envelope().open(blob, aad=_AAD + user.id.bytes).decode()


def setup(ctx: RequestContext, user: User) -> dict:
    """Start enrolment: a new secret, shown once as text and QR code, kept until confirmed."""
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


def _check_code(ctx: RequestContext, user: User, secret: str, code: str) -> int:
    counter = _matching_counter(secret, code)
    if counter is None:
        audit.record(ctx.db, "totp_failed", outcome="failure", actor_id=user.id, actor_email=user.email,
                     client_ip=ctx.client_ip)
        ctx.db.commit()
        raise NotAuthenticated("That code is not right; check your authenticator app's clock.", code="invalid_code")
    if user.totp_last_counter is not None and counter <= user.totp_last_counter:
        audit.record(ctx.db, "totp_replay", outcome="failure", actor_id=user.id, actor_email=user.email,
                     client_ip=ctx.client_ip)
        ctx.db.commit()
        raise NotAuthenticated("That code was already used; wait for the next one.", code="code_replayed")
    return counter


def confirm(ctx: RequestContext, user: User) -> dict:
    if user.totp_enabled:
        raise Conflict("Two-factor authentication is already on.", code="already_enabled")
    if user.totp_pending_enc is None:
        raise Conflict("Start the set-up first.", code="no_setup")
    secret = _open(user.totp_pending_enc, user)
    counter = _check_code(ctx, user, secret, ctx.body["code"])
    user.totp_secret_enc, user.totp_pending_enc = user.totp_pending_enc, None
    user.totp_enabled, user.totp_last_counter = True, counter
    codes = new_recovery_codes(ctx.db, user)
    audit.record(ctx.db, "totp_enabled", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip)
    return {"recovery_codes": codes}


def new_recovery_codes(db: Session, user: User) -> list[str]:
    """Replace the user's recovery codes; only hashes are kept."""
    db.query(RecoveryCode).filter(RecoveryCode.user_id == user.id).delete()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    db.add_all(RecoveryCode(user_id=user.id, code_hash=token_hash(c)) for c in codes)
    return codes


def verify_code(ctx: RequestContext, user: User, code: str) -> None:
    """Accept a current, unused TOTP code for an enrolled user, or raise."""
    counter = _check_code(ctx, user, _open(user.totp_secret_enc, user), code)
    # Conditional update: two requests racing with the same code cannot both win.
    won = ctx.db.execute(
        update(User).where(User.id == user.id,
                           (User.totp_last_counter.is_(None)) | (User.totp_last_counter < counter))
        .values(totp_last_counter=counter)
    ).rowcount
    if not won:
        raise NotAuthenticated("That code was already used; wait for the next one.", code="code_replayed")
    user.totp_last_counter = counter


def use_recovery_code(ctx: RequestContext, user: User, code: str) -> None:
    normalised = code.strip().lower()
    row = ctx.db.scalar(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == token_hash(normalised),
        RecoveryCode.used_at.is_(None)).with_for_update())
    if row is None:
        audit.record(ctx.db, "recovery_code_failed", outcome="failure", actor_id=user.id, actor_email=user.email,
                     client_ip=ctx.client_ip)
        ctx.db.commit()
        raise NotAuthenticated("That recovery code is not right or was already used.", code="invalid_code")
    row.used_at = utcnow()
    audit.record(ctx.db, "recovery_code_used", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip)


def disable(ctx: RequestContext, user: User) -> dict:
    if not user.totp_enabled:
        raise Conflict("Two-factor authentication is not on.", code="not_enabled")
    verify_code(ctx, user, ctx.body["code"])
    user.totp_enabled, user.totp_secret_enc, user.totp_pending_enc = False, None, None
    ctx.db.query(RecoveryCode).filter(RecoveryCode.user_id == user.id).delete()
    audit.record(ctx.db, "totp_disabled", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip)
    return {"status": "disabled"}
