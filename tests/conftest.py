"""Fixtures with real services: a private PostgreSQL, an SMTP server, the HTTPS origin on loopback."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcc_local.archive import encrypted_orthanc
from mcc_local.launcher import OWNER_ROLE, RUNTIME_ROLE
from mcc_local.origin import PathOnlyRequestLog
from mcc_local.orthanc import OrthancServer
from mcc_local.postgres import PostgresCluster
from mcc_local.procs import free_port, scratch_dir
from mcc_local.serving import ThreadedWsgiServer
from mcc_local.smtp_sink import SmtpSink
from mcc_local.tls import ensure_self_signed_cert
from sqlalchemy.engine import Engine

from tests.support.api_client import ApiClient, Mailbox
from tests.support.oidc_provider import OIDCProvider


@pytest.fixture(scope="session")
def state_dir() -> Iterator[Path]:
    with scratch_dir("mcc-test-") as path:
        yield path


@pytest.fixture(scope="session")
def postgres(state_dir: Path) -> Iterator[PostgresCluster]:
    port = free_port()
    cluster = PostgresCluster(state_dir / "pg" / "data", port=port, socket_dir=Path(f"/tmp/mcc-test-pg-{port}"))
    cluster.init()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink(0, log_links=False) as sink:
        yield sink


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OIDCProvider]:
    """A local OpenID provider, configured as social-login provider `testidp` (it must exist before the origin)."""
    with OIDCProvider() as idp:  # no redirect_uris: any loopback redirect is accepted
        yield idp


@pytest.fixture(scope="session")
def archive(state_dir: Path) -> Iterator[OrthancServer]:
    """Orthanc with the encrypting storage plugin, under its own key-encryption key (not the functions')."""
    server = encrypted_orthanc(state_dir / "orthanc", port=free_port(), key_dir=state_dir / "state" / "keys" / "orthanc")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def platform_env(
    state_dir: Path, postgres: PostgresCluster, smtp: SmtpSink, oidc_provider: OIDCProvider, archive: OrthancServer
) -> Iterator[dict[str, str]]:
    """Configure this process as the functions would be configured (connecting as the runtime role), and
    migrate the database as its owner, as the launcher does."""
    owner_password, runtime_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    postgres.ensure_database("mcc", OWNER_ROLE, owner_password)
    postgres.ensure_user("mcc", RUNTIME_ROLE, runtime_password)
    port = free_port()
    env = {
        "MCC_DATABASE_URL": postgres.url("mcc", RUNTIME_ROLE, runtime_password),
        "MCC_TEST_OWNER_DATABASE_URL": postgres.url("mcc", OWNER_ROLE, owner_password),
        "MCC_STATE_DIR": str(state_dir / "state"),
        "MCC_PUBLIC_URL": f"https://localhost:{port}",
        "MCC_SMTP_HOST": "127.0.0.1",
        "MCC_SMTP_PORT": str(smtp.port),
        "MCC_TRUSTED_PROXIES": "1",
        "MCC_ARGON2_MEMORY_KIB": "65536",
        "MCC_OAUTH_PROVIDERS": json.dumps([{
            "name": "testidp", "display_name": "Test IdP", "client_id": oidc_provider.client_id,
            "client_secret": oidc_provider.client_secret, "metadata_url": oidc_provider.metadata_url,
        }]),
        "MCC_TEST_ORIGIN_PORT": str(port),
        "MCC_ORTHANC_URL": archive.url,
        "MCC_ORTHANC_USERNAME": archive.credentials.username,
        "MCC_ORTHANC_PASSWORD": archive.credentials.password,
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from functions.common.platform.config import reset_settings
    from functions.common.platform.migrate import upgrade

    reset_settings()
    upgrade(env["MCC_TEST_OWNER_DATABASE_URL"], runtime_role=RUNTIME_ROLE)
    yield env
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    reset_settings()


@pytest.fixture(scope="session")
def owner_engine(platform_env: dict[str, str]) -> Engine:
    """The database as its owner (what migrations run as): for tests that set up triggers or check grants."""
    from functions.common.platform.db import engine_for

    return engine_for(platform_env["MCC_TEST_OWNER_DATABASE_URL"])


@pytest.fixture(scope="session")
def origin(platform_env: dict[str, str], state_dir: Path) -> Iterator[str]:
    """The local HTTPS origin (every function + portal) served on loopback in this process."""
    from mcc_local.origin import create_app

    cert, key = ensure_self_signed_cert(state_dir / "tls", ["localhost"])
    port = int(platform_env["MCC_TEST_ORIGIN_PORT"])
    with ThreadedWsgiServer(create_app(), port, name="origin", ssl_context=(str(cert), str(key)),
                            request_handler=PathOnlyRequestLog):
        os.environ["MCC_TEST_CA"] = str(cert)
        yield platform_env["MCC_PUBLIC_URL"]


@pytest.fixture(scope="session")
def model_host(platform_env: dict[str, str], state_dir: Path) -> Iterator[Path]:
    """The local model host (sandboxed model services) on the socket the `models` function calls."""
    from mcc_local.model_host import ModelHost

    from functions.common.platform.config import get_settings

    settings = get_settings()
    with ModelHost(settings.model_host_path, state_dir / "model-host", settings.bundles_path):
        yield settings.model_host_path


@pytest.fixture
def empty_job_queue(platform_env: dict[str, str]) -> None:
    """No claimable inference job left by earlier tests: the queue's tests and executors see only their own."""
    from sqlalchemy import update

    from functions.common.ai_models.jobs import ACTIVE, InferenceJob, JobStatus
    from functions.common.platform import db

    with db.session_scope() as session:
        session.execute(update(InferenceJob).where(InferenceJob.status.in_(ACTIVE)).values(status=JobStatus.CANCELLED))


@pytest.fixture
def mailbox(smtp: SmtpSink) -> Mailbox:
    return Mailbox(smtp)


@pytest.fixture
def client(origin: str) -> ApiClient:
    """An anonymous browser-like client with its own client address."""
    return ApiClient(origin, ca=os.environ["MCC_TEST_CA"])


@pytest.fixture
def new_client(origin: str):
    def make() -> ApiClient:
        return ApiClient(origin, ca=os.environ["MCC_TEST_CA"])

    return make


@pytest.fixture
def accounts_factory(origin: str, mailbox: Mailbox):
    """Create verified users (through the real sign-up and email verification) and sign them in."""
    from tests.support.api_client import AccountFactory

    return AccountFactory(origin, mailbox, ca=os.environ["MCC_TEST_CA"])
