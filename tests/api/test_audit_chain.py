"""The audit log's chain is keyed and anchored outside the database: someone with full access to the
database but not the key cannot rewrite rows, the whole chain, or cut off its tail unnoticed."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator

import pytest

from functions.common.platform.storage import LocalStore
from functions.common.security import audit_anchors
from functions.common.security.audit import GENESIS
from tests.support.api_client import Account

VERIFY = "/api/auth/admin/audit/verify"
COLUMNS = ("at", "actor_id", "actor_email", "action", "target", "client_ip", "outcome", "details")


def _rows(conn, since_id: int = 0) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT id, prev_hash, hash, keyed, {', '.join(COLUMNS)} FROM audit_log WHERE id >= %s "
                    "ORDER BY id", (since_id,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _payload(prev: str, row: dict) -> bytes:
    body = {"prev": prev, **{c: row[c] for c in COLUMNS}}
    body["at"] = row["at"].isoformat()
    body["actor_id"] = str(row["actor_id"]) if row["actor_id"] else None
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@pytest.fixture
def rewrite(superuser) -> Iterator:
    """Rewrite audit rows as an attacker with the database (not the key) would, and put them back after."""
    saved: list[dict] = []

    def apply(rows: list[dict]) -> None:
        with superuser, superuser.cursor() as cur:
            cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
            for row in rows:
                cur.execute("UPDATE audit_log SET prev_hash = %s, hash = %s, keyed = %s, outcome = %s WHERE id = %s",
                            (row["prev_hash"], row["hash"], row["keyed"], row["outcome"], row["id"]))
            cur.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")

    def forge(since_id: int, *, keyed_with: bytes | None) -> None:
        rows = _rows(superuser, 0)
        saved.extend(r for r in rows if r["id"] >= since_id)
        prev = GENESIS
        forged = []
        for row in rows:
            if row["id"] >= since_id:
                row = {**row, "outcome": "success", "keyed": keyed_with is not None}
                payload = _payload(prev, row)
                row["prev_hash"] = prev
                row["hash"] = (hashlib.sha256(payload).hexdigest() if keyed_with is None
                               else hmac.new(keyed_with, payload, hashlib.sha256).hexdigest())
                forged.append(row)
            prev = row["hash"]
        apply(forged)

    yield forge
    if saved:
        apply(saved)


def _verify(admin: Account) -> dict:
    r = admin.client.get(VERIFY)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_row_rewritten_without_the_key_breaks_the_chain_there(admin: Account, rewrite, superuser):
    assert _verify(admin)["ok"] is True
    target = _rows(superuser)[-3]["id"]
    rewrite(target, keyed_with=secrets.token_bytes(32))  # a consistent chain, under the wrong key
    result = _verify(admin)
    assert result["ok"] is False and result["first_broken_id"] == target


def test_an_unkeyed_chain_after_keyed_rows_is_refused(admin: Account, rewrite, superuser):
    target = _rows(superuser)[-2]["id"]
    rewrite(target, keyed_with=None)  # plain SHA-256 from there on, as before the chain was keyed
    result = _verify(admin)
    assert result["ok"] is False and result["first_broken_id"] == target


def test_rewriting_the_whole_chain_is_caught_by_the_anchors(admin: Account, rewrite, superuser):
    assert _verify(admin)["ok"] is True  # an intact chain is anchored
    rewrite(0, keyed_with=None)  # every row unkeyed: consistent by itself
    result = _verify(admin)
    assert result["ok"] is False and result["anchors"] >= 1
    assert result["first_broken_id"] is not None and result["anchored_up_to"] is None  # the oldest anchor disagrees


def test_a_cut_off_tail_is_caught_by_the_anchors(admin: Account, superuser):
    first = _verify(admin)
    assert first["ok"] is True and first["anchored_up_to"] is not None
    newest = _rows(superuser, first["anchored_up_to"])[-1]
    with superuser, superuser.cursor() as cur:
        cur.execute("SELECT * FROM audit_log WHERE id = %s", (newest["id"],))
        kept = cur.fetchone()
        names = [d[0] for d in cur.description]
        cur.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
        cur.execute("DELETE FROM audit_log WHERE id = %s", (newest["id"],))
        cur.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
    try:
        with superuser, superuser.cursor() as cur:
            cur.execute("SELECT max(id) FROM audit_log")
            assert cur.fetchone()[0] < newest["id"]
        result = _verify(admin)
        assert result["ok"] is False and result["first_broken_id"] == newest["id"]
    finally:
        with superuser, superuser.cursor() as cur:
            cur.execute(f"INSERT INTO audit_log ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
                        [json.dumps(v) if isinstance(v, dict) else v for v in kept])
    assert _verify(admin)["ok"] is True


def test_a_forged_anchor_is_refused(platform_env, tmp_path):
    from functions.common.platform import db

    objects = LocalStore(tmp_path)
    with db.session_scope() as session:
        row_id = audit_anchors.anchor(session, objects)
        assert audit_anchors.check(session, objects).ok
        key = f"{audit_anchors.PREFIX}/{row_id:020d}.json"
        body = json.loads(objects.get(key))
        objects.put_at(key, json.dumps({**body, "hash": "0" * 64}).encode())  # no key to make its MAC
        result = audit_anchors.check(session, objects)
    assert not result.ok and result.first_broken_id == row_id
