"""Medical certificates (functions/auth/certificates.py): a pending health professional uploads one, it is kept
encrypted, and an administrator downloads it and approves or rejects the account."""

from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from tests.support.api_client import Account, AccountFactory, ApiClient, Mailbox
from tests.support.problem import assert_problem
from tests.support.records import audit_events, user_row

MB = 1024 * 1024
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n" + os.urandom(2048) + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(512)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(512)


def upload(client: ApiClient, data: bytes, filename: str = "certificate.pdf", content_type: str = "application/pdf"):
    return client.post("/api/auth/certificate", files={"file": (filename, data, content_type)})


def pending_professional(factory: AccountFactory) -> Account:
    return factory.create("health_professional", status="pending")


def uploaded(factory: AccountFactory, data: bytes = PDF) -> tuple[Account, dict]:
    """A pending professional with one certificate waiting for review."""
    account = pending_professional(factory)
    r = upload(account.client, data)
    assert r.status_code == 201, r.text
    return account, r.json()["certificate"]


def pending_ids(admin: Account) -> set[str]:
    r = admin.client.get("/api/auth/admin/certificates")
    assert r.status_code == 200, r.text
    return {item["id"] for item in r.json()["items"]}


# ---------------------------------------------------------------- upload
@pytest.mark.parametrize(("data", "filename", "claimed", "expected"), [
    (PDF, "certificate.pdf", "application/pdf", "application/pdf"),
    (PNG, "scan.png", "image/png", "image/png"),
    (JPEG, "photo.jpg", "image/jpeg", "image/jpeg"),
    (PNG, "scan.pdf", "application/pdf", "image/png"),  # the bytes decide, not the name or the claim
], ids=["pdf", "png", "jpeg", "png-named-pdf"])
def test_pending_professional_uploads_a_certificate(factory: AccountFactory, data: bytes, filename: str,
                                                    claimed: str, expected: str) -> None:
    account = pending_professional(factory)
    r = upload(account.client, data, filename, claimed)
    assert r.status_code == 201, r.text
    cert = r.json()["certificate"]
    assert (cert["status"], cert["content_type"], cert["size"], cert["reason"]) == ("pending", expected, len(data),
                                                                                   None)
    me = account.client.get("/api/auth/me").json()
    assert me["status"] == "pending" and me["certificate"]["id"] == cert["id"]
    assert audit_events("certificate_uploaded", actor_id=account.id)


def test_text_file_renamed_pdf_is_refused(factory: AccountFactory) -> None:
    account = pending_professional(factory)
    r = upload(account.client, b"I am a doctor, honestly.\n", "certificate.pdf", "application/pdf")
    assert_problem(r, 415, "unsupported_type")
    assert account.client.get("/api/auth/me").json()["certificate"] is None


def test_certificate_over_five_megabytes_is_refused(factory: AccountFactory) -> None:
    account = pending_professional(factory)
    too_big = PDF + b"\0" * (5 * MB + 1 - len(PDF))
    assert_problem(upload(account.client, too_big), 413, "too_large")
    assert account.client.get("/api/auth/me").json()["certificate"] is None
    exactly = PDF + b"\0" * (5 * MB - len(PDF))
    assert upload(account.client, exactly).status_code == 201


def test_upload_needs_a_multipart_file_field(factory: AccountFactory) -> None:
    account = pending_professional(factory)
    assert_problem(account.client.post("/api/auth/certificate", json={"file": "JVBERi0="}), 415, "unsupported_type")
    r = account.client.post("/api/auth/certificate", files={"document": ("c.pdf", PDF, "application/pdf")})
    assert_problem(r, 400, "missing_file")


def test_researcher_cannot_upload_a_certificate(factory: AccountFactory) -> None:
    assert_problem(upload(factory.create("researcher").client, PDF), 403, "wrong_role")


def test_anonymous_upload_is_refused(client: ApiClient) -> None:
    assert_problem(upload(client, PDF), 401, "not_authenticated")


def test_approved_professional_has_nothing_to_upload(factory: AccountFactory) -> None:
    account = factory.create("health_professional", status="active")
    assert_problem(upload(account.client, PDF), 409, "already_approved")


def test_certificate_is_encrypted_at_rest(factory: AccountFactory) -> None:
    from functions.common.accounts.tables import Certificate
    from functions.common.platform.config import get_settings
    from tests.support.records import scalar

    data = PDF + os.urandom(4096)
    _, cert = uploaded(factory, data)
    key = scalar(Certificate.__table__.select().with_only_columns(Certificate.object_key)
                 .where(Certificate.id == uuid.UUID(cert["id"])))
    stored = (get_settings().objects_path / key).read_bytes()
    assert stored.startswith(b"MCE1") and len(stored) > len(data)
    assert data not in stored and data[:64] not in stored
    assert hashlib.sha256(data).hexdigest() not in key, "the object name must not reveal the plaintext's hash"
    every_object = b"".join(p.read_bytes() for p in get_settings().objects_path.rglob("*") if p.is_file())
    assert data[:64] not in every_object


def test_a_new_upload_supersedes_the_pending_one(factory: AccountFactory, admin: Account) -> None:
    account, first = uploaded(factory)
    second = upload(account.client, PNG, "scan.png", "image/png").json()["certificate"]
    ids = pending_ids(admin)
    assert second["id"] in ids and first["id"] not in ids
    assert account.client.get("/api/auth/me").json()["certificate"]["id"] == second["id"]


# ---------------------------------------------------------------- review by an administrator
def test_admin_lists_pending_certificates_with_their_owner(factory: AccountFactory, admin: Account) -> None:
    account, cert = uploaded(factory)
    items = admin.client.get("/api/auth/admin/certificates").json()["items"]
    mine = next(item for item in items if item["id"] == cert["id"])
    assert mine["user"] == {"id": account.id, "email": account.email, "name": "Test health_professional"}
    assert (mine["status"], mine["content_type"], mine["size"]) == ("pending", "application/pdf", len(PDF))
    assert all(item["status"] == "pending" for item in items)


def test_admin_downloads_the_original_bytes(factory: AccountFactory, admin: Account) -> None:
    _, cert = uploaded(factory, PNG)
    r = admin.client.get(f"/api/auth/admin/certificates/{cert['id']}/file")
    assert r.status_code == 200 and r.content == PNG
    assert r.headers["Content-Type"] == "image/png"
    assert "sandbox" in r.headers["Content-Security-Policy"] and "nosniff" in r.headers["X-Content-Type-Options"]
    viewed = audit_events("certificate_viewed", actor_id=admin.id)
    assert viewed and viewed[-1].target == f"certificate:{cert['id']}"


def test_approval_activates_the_account_and_mails_the_professional(factory: AccountFactory, admin: Account,
                                                                   mailbox: Mailbox) -> None:
    account, cert = uploaded(factory)
    r = admin.client.post(f"/api/auth/admin/certificates/{cert['id']}/approve")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved" and r.json()["reason"] is None
    me = account.client.get("/api/auth/me").json()
    assert me["status"] == "active" and me["certificate"]["status"] == "approved"
    assert "approved" in mailbox.wait_for(account.email, "approved").get_content()
    assert cert["id"] not in pending_ids(admin)
    approved = admin.client.get("/api/auth/admin/certificates", params={"status": "approved"}).json()["items"]
    assert cert["id"] in {item["id"] for item in approved}


def test_rejection_records_the_reason_and_mails_it(factory: AccountFactory, admin: Account,
                                                   mailbox: Mailbox) -> None:
    account, cert = uploaded(factory)
    reason = "The scan is unreadable; please upload a sharper copy."
    r = admin.client.post(f"/api/auth/admin/certificates/{cert['id']}/reject", json={"reason": f"  {reason} "})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reason"]) == ("rejected", reason)
    me = account.client.get("/api/auth/me").json()
    assert me["status"] == "rejected" and me["certificate"]["reason"] == reason
    assert reason in mailbox.wait_for(account.email, "not accepted").get_content()
    assert upload(account.client, JPEG, "photo.jpg", "image/jpeg").status_code == 201  # may try again
    assert account.client.get("/api/auth/me").json()["status"] == "pending"


def test_a_certificate_is_decided_only_once(factory: AccountFactory, admin: Account) -> None:
    _, cert = uploaded(factory)
    assert admin.client.post(f"/api/auth/admin/certificates/{cert['id']}/approve").status_code == 200
    assert_problem(admin.client.post(f"/api/auth/admin/certificates/{cert['id']}/approve"), 409, "already_decided")
    r = admin.client.post(f"/api/auth/admin/certificates/{cert['id']}/reject", json={"reason": "Changed my mind"})
    assert_problem(r, 409, "already_decided")


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}])
def test_rejection_needs_a_reason(factory: AccountFactory, admin: Account, body: dict) -> None:
    account, cert = uploaded(factory)
    assert_problem(admin.client.post(f"/api/auth/admin/certificates/{cert['id']}/reject", json=body), 422,
                   "validation")
    assert cert["id"] in pending_ids(admin)
    assert user_row(account.email).status == "pending"


def test_deciding_an_unknown_certificate_is_not_found(admin: Account) -> None:
    for path in (f"{uuid.uuid4()}/approve", "not-a-uuid/approve", f"{uuid.uuid4()}/file"):
        r = (admin.client.get if path.endswith("file") else admin.client.post)(f"/api/auth/admin/certificates/{path}")
        assert_problem(r, 404, "not_found")
