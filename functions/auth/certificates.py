"""Medical certificates: health professionals upload one, admins approve or reject it."""

from __future__ import annotations

import uuid

import flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from functions.auth import events
from functions.common.accounts.tables import Certificate, User
from functions.common.platform import mail
from functions.common.platform.config import get_settings
from functions.common.platform.db import get_or_404, utcnow
from functions.common.platform.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    LengthRequired,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from functions.common.platform.storage import store
from functions.common.security import audit
from functions.common.security.crypto import envelope
from functions.common.security.tokens import Principal

SIGNATURES = ((b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))
MEDIA_TYPES = tuple(content_type for _, content_type in SIGNATURES)
STATUSES = ("pending", "approved", "rejected", "superseded")
_AAD = b"certificate"


def sniff(data: bytes) -> str:
    """The content type by the file's own bytes, not its name or the browser's claim."""
    for magic, content_type in SIGNATURES:
        if data.startswith(magic):
            return content_type
    raise UnsupportedMediaType("Upload the certificate as a PDF, PNG or JPEG file.")


def serialize(cert: Certificate, user: User | None = None) -> dict:
    """A certificate as the API shows it; for admins, with whose it is."""
    out = {"id": str(cert.id), "status": cert.status, "reason": cert.reason, "uploaded_at": cert.uploaded_at.isoformat(),
           "content_type": cert.content_type, "size": cert.size}
    if user is not None:
        out["user"] = {"id": str(user.id), "email": user.email, "name": user.name}
    return out


def require_uploader(user: User) -> None:
    """Only a health professional not yet approved uploads a certificate."""
    if user.role != "health_professional":
        raise Forbidden("Only health professionals upload a medical certificate.", code="wrong_role")
    if user.status == "active":
        raise Conflict("Your account is already approved.", code="already_approved")


def read_upload(request: flask.Request) -> bytes:
    """The file of a multipart upload, refused before it is read when it is announced too large."""
    limit = get_settings().max_certificate_bytes
    if request.content_length is None:
        raise LengthRequired("Send a Content-Length header.")
    if request.content_length > limit + 64 * 1024:
        raise PayloadTooLarge(f"The certificate must be at most {limit // (1024 * 1024)} MB.")
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise UnsupportedMediaType("Send the file as multipart/form-data in the field 'file'.")
    file = request.files.get("file")
    if file is None:
        raise BadRequest("Attach the certificate in the form field 'file'.", code="missing_file")
    data = file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The certificate must be at most {limit // (1024 * 1024)} MB.")
    return data


def upload(db: Session, user: User, data: bytes, *, client_ip: str) -> dict:
    """Keep a certificate sealed in object storage; it supersedes a pending one and waits for an admin."""
    require_uploader(user)
    content_type = sniff(data)
    key = store().put(envelope().seal(data, aad=_AAD), prefix="certificates")
    for old in db.scalars(select(Certificate).where(Certificate.user_id == user.id, Certificate.status == "pending")):
        old.status, old.reason = "superseded", "replaced by a newer upload"
    cert = Certificate(id=uuid.uuid4(), user_id=user.id, object_key=key, content_type=content_type, size=len(data),
                       status="pending", uploaded_at=utcnow())
    db.add(cert)
    user.status = "pending"
    events.record(db, "certificate_uploaded", user, client_ip=client_ip, target=f"certificate:{cert.id}",
                  details={"content_type": content_type, "size": len(data)})
    return serialize(cert)


def list_certificates(db: Session, *, status: str) -> dict:
    """Certificates in one status, oldest first, with their owners."""
    rows = db.execute(select(Certificate, User).join(User, User.id == Certificate.user_id)
                      .where(Certificate.status == status).order_by(Certificate.uploaded_at))
    return {"items": [serialize(c, u) for c, u in rows]}


def download(db: Session, principal: Principal, cert_id: uuid.UUID, *, client_ip: str) -> tuple[bytes, str]:
    """A certificate's file and content type, for an admin to look at; every viewing is audited."""
    cert = get_or_404(db, Certificate, cert_id, what="certificate")
    audit.record(db, "certificate_viewed", actor_id=principal.user_id, client_ip=client_ip,
                 target=f"certificate:{cert.id}")
    return envelope().open(store().get(cert.object_key), aad=_AAD), cert.content_type


def approve(db: Session, principal: Principal, cert_id: uuid.UUID, *, client_ip: str) -> dict:
    """Accept a pending certificate: its owner's account becomes active."""
    return _decide(db, principal, cert_id, reason=None, client_ip=client_ip)


def reject(db: Session, principal: Principal, cert_id: uuid.UUID, *, reason: str, client_ip: str) -> dict:
    """Refuse a pending certificate with a reason the owner is told."""
    return _decide(db, principal, cert_id, reason=reason.strip(), client_ip=client_ip)


def _decide(db: Session, principal: Principal, cert_id: uuid.UUID, *, reason: str | None, client_ip: str) -> dict:
    """Approve (no reason) or reject (a reason) a pending certificate, then mail its owner."""
    approved = reason is None
    cert = get_or_404(db, Certificate, cert_id, what="certificate")
    if cert.status != "pending":
        raise Conflict(f"This certificate was already {cert.status}.", code="already_decided")
    user = db.get(User, cert.user_id)
    cert.status, cert.reason = ("approved" if approved else "rejected"), reason
    cert.decided_at, cert.decided_by = utcnow(), principal.user_id
    if user.status != "deactivated":
        user.status = "active" if approved else "rejected"
    audit.record(db, "certificate_approved" if approved else "certificate_rejected", actor_id=principal.user_id,
                 client_ip=client_ip, target=f"user:{user.id}",
                 details={"certificate": str(cert.id), **({} if approved else {"reason": reason})})
    db.commit()
    public_url = get_settings().public_url
    if approved:
        mail.send(user.email, "Your MedCloudCare account is approved",
                  f"Your medical certificate was approved. Sign in at {public_url}/signin.")
    else:
        mail.send(user.email, "Your MedCloudCare certificate was not accepted",
                  f"Your medical certificate was not accepted.\nReason: {reason}\n\n"
                  f"You can upload a new one from your profile: {public_url}/profile")
    return serialize(cert, user)
