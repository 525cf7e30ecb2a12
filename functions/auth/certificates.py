"""Medical certificates: health professionals upload one, admins approve or reject it."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from functions.common import audit, mail
from functions.common.crypto import envelope
from functions.common.db import get_or_404
from functions.common.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    LengthRequired,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from functions.common.http import RequestContext
from functions.common.models import Certificate, User, utcnow
from functions.common.storage import store

SIGNATURES = ((b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))
_AAD = b"certificate"


def sniff(data: bytes) -> str:
    """The content type by the file's own bytes, not its name or the browser's claim."""
    for magic, content_type in SIGNATURES:
        if data.startswith(magic):
            return content_type
    raise UnsupportedMediaType("Upload the certificate as a PDF, PNG or JPEG file.")


def serialize(cert: Certificate, user: User | None = None) -> dict:
    out = {"id": str(cert.id), "status": cert.status, "reason": cert.reason, "uploaded_at": cert.uploaded_at.isoformat(),
           "content_type": cert.content_type, "size": cert.size}
    if user is not None:
        out["user"] = {"id": str(user.id), "email": user.email, "name": user.name}
    return out


def upload(ctx: RequestContext, user: User) -> tuple[dict, int]:
    if user.role != "health_professional":
        raise Forbidden("Only health professionals upload a medical certificate.", code="wrong_role")
    if user.status == "active":
        raise Conflict("Your account is already approved.", code="already_approved")
    limit = ctx.settings.max_certificate_bytes
    length = ctx.request.content_length
    if length is None:
        raise LengthRequired("Send a Content-Length header.")
    if length > limit + 64 * 1024:
        raise PayloadTooLarge(f"The certificate must be at most {limit // (1024 * 1024)} MB.")
    if not (ctx.request.mimetype or "").startswith("multipart/form-data"):
        raise UnsupportedMediaType("Send the file as multipart/form-data in the field 'file'.")
    file = ctx.request.files.get("file")
    if file is None:
        raise BadRequest("Attach the certificate in the form field 'file'.", code="missing_file")
    data = file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The certificate must be at most {limit // (1024 * 1024)} MB.")
    content_type = sniff(data)
    key = store().put(envelope().seal(data, aad=_AAD), prefix="certificates")
    for old in ctx.db.scalars(select(Certificate).where(Certificate.user_id == user.id,
                                                        Certificate.status == "pending")):
        old.status, old.reason = "superseded", "replaced by a newer upload"
    cert = Certificate(id=uuid.uuid4(), user_id=user.id, object_key=key, content_type=content_type, size=len(data),
                       status="pending", uploaded_at=utcnow())
    ctx.db.add(cert)
    user.status = "pending"
    audit.record(ctx.db, "certificate_uploaded", actor_id=user.id, actor_email=user.email, client_ip=ctx.client_ip,
                 target=f"certificate:{cert.id}", details={"content_type": content_type, "size": len(data)})
    return {"certificate": serialize(cert)}, 201


def _pending(ctx: RequestContext, cert_id: str) -> tuple[Certificate, User]:
    cert = _get(ctx, cert_id)
    if cert.status != "pending":
        raise Conflict(f"This certificate was already {cert.status}.", code="already_decided")
    return cert, ctx.db.get(User, cert.user_id)


def _get(ctx: RequestContext, cert_id: str) -> Certificate:
    return get_or_404(ctx.db, Certificate, cert_id, what="certificate")


def list_certificates(ctx: RequestContext) -> dict:
    status = ctx.request.args.get("status", "pending")
    rows = ctx.db.execute(select(Certificate, User).join(User, User.id == Certificate.user_id)
                          .where(Certificate.status == status).order_by(Certificate.uploaded_at))
    return {"items": [serialize(c, u) for c, u in rows]}


def download(ctx: RequestContext, cert_id: str) -> tuple[bytes, str]:
    cert = _get(ctx, cert_id)
    audit.record(ctx.db, "certificate_viewed", actor_id=ctx.principal.user_id, client_ip=ctx.client_ip,
                 target=f"certificate:{cert.id}")
    return envelope().open(store().get(cert.object_key), aad=_AAD), cert.content_type


def decide(ctx: RequestContext, cert_id: str, *, approve: bool) -> dict:
    cert, user = _pending(ctx, cert_id)
    cert.status = "approved" if approve else "rejected"
    cert.reason = None if approve else ctx.body["reason"].strip()
    cert.decided_at, cert.decided_by = utcnow(), ctx.principal.user_id
    if user.status != "deactivated":
        user.status = "active" if approve else "rejected"
    audit.record(ctx.db, "certificate_approved" if approve else "certificate_rejected",
                 actor_id=ctx.principal.user_id, client_ip=ctx.client_ip, target=f"user:{user.id}",
                 details={"certificate": str(cert.id), **({} if approve else {"reason": cert.reason})})
    ctx.db.commit()
    if approve:
        mail.send(user.email, "Your MedCloudCare account is approved",
                  f"Your medical certificate was approved. Sign in at {ctx.settings.public_url}/signin.")
    else:
        mail.send(user.email, "Your MedCloudCare certificate was not accepted",
                  f"Your medical certificate was not accepted.\nReason: {cert.reason}\n\n"
                  f"You can upload a new one from your profile: {ctx.settings.public_url}/profile")
    return serialize(cert, user)
