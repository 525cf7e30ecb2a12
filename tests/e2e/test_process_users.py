"""Command 1 started by root: every long-running process runs as its own unprivileged user, and each user can
open only the keys and state it needs (what a compromised Orthanc, or a compromised gateway, could read)."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import LivePlatform

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the platform hands processes to their own users only "
                                                          "when started by root (as in CI)")

EXPECTED_USERS = {"orthanc": "mcc-orthanc", "auth": "mcc-auth", "origin": "mcc-app", "audit-anchors": "mcc-app",
                  "http-redirect": "mcc-app", "inference-executor": "mcc-app"}


def _pids(state: Path) -> dict[str, int]:
    return {p.stem: json.loads(p.read_text())["pid"] for p in (state / "run" / "pids").glob("*.pid")}


def _user_of(pid: int) -> str:
    uids = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Uid:"))
    real, effective, saved, _ = uids.split()[1:]
    assert real == effective == saved, f"pid {pid} could switch back to uid {saved}"
    return pwd.getpwuid(int(real)).pw_name


def _session_members(leader: int) -> list[int]:
    """The leader and every process it started (gunicorn's workers, PostgreSQL's backends)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == leader:  # session id: each process leads its own session
            members.append(int(stat.parent.name))
    return members


def _can(user: str, test: str, path: Path) -> bool:
    """Asked as `user` (the kernel's answer, ACLs included): `-r` may open for reading, `-w` for writing."""
    return subprocess.run(["runuser", "-u", user, "--", "test", test, str(path)], cwd="/").returncode == 0


def test_each_process_runs_as_its_own_unprivileged_user(live_platform: LivePlatform):
    pids = _pids(live_platform.state)
    assert set(EXPECTED_USERS) <= set(pids), pids
    for name, user in EXPECTED_USERS.items():
        members = _session_members(pids[name])
        assert members, f"{name} is not running"
        assert {_user_of(pid) for pid in members} == {user}, name
    postmaster = int((live_platform.state / "pg" / "data" / "postmaster.pid").read_text().split()[0])
    assert _user_of(postmaster) == "postgres"


def test_each_user_opens_only_its_own_keys(live_platform: LivePlatform):
    keys = live_platform.state / "keys"
    signing = next((keys / "signing").glob("*.pem"))
    platform_kek = next((keys / "platform" / "kek").glob("*.key"))
    index_key = keys / "platform" / "index.key.sealed"
    orthanc_kek = next((keys / "orthanc" / "kek").glob("*.key"))

    # Orthanc (decoders with known CVEs) reaches its own key only: no token forging, no study keys.
    assert _can("mcc-orthanc", "-r", orthanc_kek)
    for secret in (signing, platform_kek, index_key):
        assert not _can("mcc-orthanc", "-r", secret), secret
    # The gateway and the other functions: the platform keys, read-only; never the signing key or Orthanc's.
    assert _can("mcc-app", "-r", platform_kek) and _can("mcc-app", "-r", index_key)
    assert not _can("mcc-app", "-w", platform_kek) and not _can("mcc-app", "-w", index_key)
    assert not _can("mcc-app", "-r", signing) and not _can("mcc-app", "-r", orthanc_kek)
    # Only auth signs tokens; it reads the platform keys too (TOTP secrets, blind indexes), changes none.
    assert _can("mcc-auth", "-r", signing) and _can("mcc-auth", "-r", platform_kek)
    assert not _can("mcc-auth", "-w", platform_kek) and not _can("mcc-auth", "-r", orthanc_kek)


def test_state_belongs_to_the_process_that_needs_it(live_platform: LivePlatform):
    state = live_platform.state
    orthanc_storage = state / "orthanc" / "data" / "encrypted"
    assert _can("mcc-orthanc", "-w", orthanc_storage)
    for user in ("mcc-app", "mcc-auth"):
        assert not _can(user, "-w", orthanc_storage) and not _can(user, "-r", orthanc_storage)
        assert not _can(user, "-r", state / "orthanc" / "orthanc.json")  # Orthanc's configuration and password
        assert not _can(user, "-r", state / "secrets" / "db-password")  # the schema owner's password
    assert not _can("mcc-orthanc", "-r", state / "tls" / "server.key")
    assert not _can("mcc-auth", "-r", state / "tls" / "server.key") and _can("mcc-app", "-r", state / "tls" / "server.key")
    for user in ("mcc-app", "mcc-auth"):
        assert _can(user, "-w", state / "objects")  # certificates, audit anchors
    assert not _can("mcc-orthanc", "-r", state / "objects")
    for private in (state / "orthanc", state / "keys" / "orthanc", state / "keys" / "signing", state / "secrets"):
        assert private.stat().st_mode & 0o077 == 0, f"{private} is open to others"
        assert all(f.stat().st_mode & 0o077 == 0 for f in private.rglob("*") if f.is_file()), private


def test_auth_holds_no_archive_password_and_the_origin_no_signing_key(live_platform: LivePlatform):
    pids = _pids(live_platform.state)
    auth_env = Path(f"/proc/{pids['auth']}/environ").read_bytes()
    origin_env = Path(f"/proc/{pids['origin']}/environ").read_bytes()
    assert b"MCC_ORTHANC_PASSWORD=" not in auth_env and b"MCC_ORTHANC_PASSWORD=" in origin_env
    # The origin verifies tokens by the auth function's public keys, fetched over loopback.
    assert b"MCC_JWKS_URL=http://127.0.0.1:" in origin_env
