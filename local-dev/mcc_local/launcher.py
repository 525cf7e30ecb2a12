"""Start and stop the whole platform on one machine: `python -m mcc_local.launcher up|down`.

PostgreSQL (a private cluster), Orthanc, an SMTP sink (unless MCC_SMTP_HOST points at a real
server), the `auth` function in its own process, every other function behind one HTTPS origin
(gunicorn) that passes `/api/auth` through to it, the audit-log anchoring, and an HTTP → HTTPS
redirect. Started by root, each runs as its own unprivileged user with only its keys (`users.py`).
State lives under MCC_STATE_DIR (default ./var) and survives restarts.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import secrets
import signal
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from mcc_local import demo_models, model_host, users
from mcc_local.archive import encrypted_orthanc
from mcc_local.origin import ROOT
from mcc_local.postgres import PostgresCluster
from mcc_local.procs import ProcessGroup, free_port, wait_for_http, wait_for_port, write_private_file
from mcc_local.tls import cert_fingerprint, ensure_self_signed_cert

log = logging.getLogger("mcc_local")

DEMO_USERS = (
    ("admin", "admin@demo.medcloudcare.local", "Demo Administrator"),
    ("researcher", "researcher@demo.medcloudcare.local", "Demo Researcher"),
    ("health_professional", "doctor@demo.medcloudcare.local", "Dr Demo Clinician"),
)


@dataclass(frozen=True)
class Ports:
    https: int
    http: int
    postgres: int
    orthanc: int
    smtp: int
    auth: int = 0  # the auth function's own loopback port; 0: a free one

    @classmethod
    def from_env(cls) -> Ports:
        env = os.environ.get
        return cls(https=int(env("MCC_HTTPS_PORT", "8443")), http=int(env("MCC_HTTP_PORT", "8080")),
                   postgres=int(env("MCC_PG_PORT", "5433")), orthanc=int(env("MCC_ORTHANC_PORT", "8042")),
                   smtp=int(env("MCC_SMTP_PORT", "8025")), auth=int(env("MCC_AUTH_PORT", "0")))


def _secret(path: Path) -> str:
    """A generated secret kept 0600 under the state dir (created once)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private_file(path, secrets.token_urlsafe(24))
    return path.read_text().strip()


DATABASE = "mcc"
OWNER_ROLE = "mcc"          # owns the schema; runs the migrations (the launcher only)
RUNTIME_ROLE = "mcc_app"    # what the functions connect as: rows only, the audit log append-only


class Platform:
    def __init__(self, state_dir: Path, ports: Ports) -> None:
        self.state = state_dir.absolute()
        self.ports = ports if ports.auth else replace(ports, auth=free_port())
        self.procs = ProcessGroup(self.state / "run")
        self.pg = PostgresCluster(self.state / "pg" / "data", port=ports.postgres,
                                  socket_dir=Path(f"/tmp/mcc-pg-{ports.postgres}"))
        self.keys = Path(os.environ.get("MCC_KEY_DIR", self.state / "keys")).absolute()
        self.orthanc = encrypted_orthanc(self.state / "orthanc", port=ports.orthanc, key_dir=self.keys / "orthanc",
                                         processes=self.procs, run_as=users.ORTHANC)
        self.public_url = os.environ.get("MCC_PUBLIC_URL", f"https://localhost:{ports.https}")
        self.use_sink = "MCC_SMTP_HOST" not in os.environ or os.environ.get("MCC_SMTP_SINK") == "1"

    # ------------------------------------------------------------------ up
    def _db_password(self, role: str) -> str:
        """The role's generated password (the owner's stays with the launcher, which migrates)."""
        return _secret(self.state / "secrets" / ("db-password" if role == OWNER_ROLE else f"db-password-{role}"))

    def function_env(self) -> dict[str, str]:
        """The MCC_* settings every function process gets."""
        env = {
            "MCC_DATABASE_URL": self.pg.url(DATABASE, RUNTIME_ROLE, self._db_password(RUNTIME_ROLE)),
            "MCC_STATE_DIR": str(self.state),
            "MCC_PUBLIC_URL": self.public_url,
            "MCC_SMTP_HOST": os.environ.get("MCC_SMTP_HOST", "127.0.0.1"),
            "MCC_SMTP_PORT": os.environ.get("MCC_SMTP_PORT", str(self.ports.smtp)),
            "MCC_ORTHANC_URL": self.orthanc.url,
            "MCC_ORTHANC_USERNAME": self.orthanc.credentials.username,
            "MCC_ORTHANC_PASSWORD": self.orthanc.credentials.password,
        }
        return {**{k: v for k, v in os.environ.items() if k.startswith("MCC_")}, **env}

    def up(self) -> None:
        self._prepare_state()
        log.info("starting PostgreSQL on 127.0.0.1:%d", self.ports.postgres)
        self.pg.init()
        self.pg.start()
        env = self.function_env()
        owner_password = self._db_password(OWNER_ROLE)
        self.pg.ensure_database(DATABASE, OWNER_ROLE, owner_password)
        self.pg.ensure_user(DATABASE, RUNTIME_ROLE, self._db_password(RUNTIME_ROLE))
        os.environ.update(env)
        from functions.common.platform.config import reset_settings
        from functions.common.platform.migrate import upgrade

        reset_settings()
        upgrade(self.pg.url(DATABASE, OWNER_ROLE, owner_password), runtime_role=RUNTIME_ROLE)
        log.info("database migrated")
        self._provision_keys()
        log.info("starting Orthanc on 127.0.0.1:%d", self.ports.orthanc)
        self.orthanc.start()
        if self.use_sink:  # local mail, its links on this terminal
            self._start_module("smtp-sink", "mcc_local.smtp_sink", str(self.ports.smtp), inherit_output=True)
            wait_for_port(self.ports.smtp, 30, alive=lambda: self.procs.is_running("smtp-sink"))
        self._start_model_host()
        cert = self._start_functions(dict(os.environ))
        logins = self.demo_accounts()
        self.demo_study(dict((role, email) for role, email, _ in logins)["health_professional"])
        self.demo_models(dict((role, email) for role, email, _ in logins)["researcher"])
        self._start_helpers()
        self._announce(cert, logins)

    def _prepare_state(self) -> None:
        """The state directory; started by root, the platform's users exist and may reach their files."""
        self.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        if users.privileged():
            users.ensure_service_users()
            self.state.chmod(0o711)  # each process enters its own directory below and lists nothing else
            for path in (ROOT, Path(sys.executable).resolve(), self.state):
                users.grant_traverse(path)

    def _provision_keys(self) -> None:
        """The platform's KEK and wrapped index key, readable (not writable) by the functions' group; the
        token-signing key, the auth function's alone; the object storage, the functions'. Orthanc makes its own."""
        from functions.common.platform.config import get_settings
        from functions.common.security import crypto, tokens

        self.keys.mkdir(parents=True, exist_ok=True, mode=0o700)
        crypto.provision(self.keys)
        tokens.signing_keys(self.keys).current  # noqa: B018 - creates the first key pair
        objects = get_settings().objects_path
        objects.mkdir(parents=True, exist_ok=True, mode=0o700)
        if users.privileged():
            self.keys.chmod(0o711)
            users.hand_over(self.keys / crypto.PLATFORM_KEYS, None, group=users.SHARED_GROUP, dir_mode=0o750,
                            file_mode=0o640)
            users.hand_over(self.keys / "signing", users.AUTH)
            users.hand_over(objects, users.APP, group=users.SHARED_GROUP, dir_mode=0o2770, file_mode=0o660)

    def _start_model_host(self) -> None:
        """The model host (root: it makes cgroups and starts each model as `mcc-model` in its sandbox), with no
        platform setting or key in its environment; the functions reach it through a socket of group `mcc`."""
        from functions.common.platform.config import get_settings

        settings = get_settings()
        model_host.prepare(settings.model_host_path, settings.bundles_path)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
        self.procs.start("model-host", model_host.command(settings.model_host_path, self.state / "model-host",
                                                          settings.bundles_path), env=env, cwd=ROOT)
        model_host.wait_serving(settings.model_host_path, 60, alive=lambda: self.procs.is_running("model-host"),
                                log=self.procs.log_dir / "model-host.log")

    def _start_functions(self, env: dict[str, str]) -> Path:
        """`auth` on its own loopback port as its own user, then the HTTPS origin (every other function, the portal,
        the viewer) passing /api/auth through to it; returns the origin's certificate."""
        cert, key = self._tls()
        workers = os.environ.get("MCC_WORKERS", "2")
        gunicorn = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", workers,
                    "--threads", "8", "--chdir", str(ROOT), "--pythonpath", f"{ROOT},{ROOT / 'local-dev'}",
                    "--access-logfile", "-", "--access-logformat", '%(m)s %(U)s %(s)s %(M)sms']
        upstream = f"http://127.0.0.1:{self.ports.auth}"
        auth_env = {k: v for k, v in env.items() if not k.startswith("MCC_ORTHANC_")}  # auth never calls Orthanc
        auth_env["MCC_TRUSTED_PROXIES"] = str(int(env.get("MCC_TRUSTED_PROXIES", "0")) + 1)  # the origin
        self.procs.start("auth", [*gunicorn, "--bind", f"127.0.0.1:{self.ports.auth}",
                                  "mcc_local.origin:serve_function('auth')"], env=auth_env, run_as=users.AUTH)
        origin_env = {**env, "MCC_AUTH_UPSTREAM": upstream,
                      "MCC_JWKS_URL": f"{upstream}/api/auth/.well-known/jwks.json"}
        self.procs.start("origin", [*gunicorn, "--bind", f"127.0.0.1:{self.ports.https}", "--certfile", str(cert),
                                    "--keyfile", str(key), "mcc_local.origin:create_app()"],
                         env=origin_env, run_as=users.APP)
        wait_for_http(f"{upstream}/api/auth/readyz", timeout=60, alive=lambda: self.procs.is_running("auth"))
        wait_for_http(f"https://127.0.0.1:{self.ports.https}/api/auth/readyz", timeout=60, verify=False,
                      alive=lambda: self.procs.is_running("origin"))
        return cert

    def _start_helpers(self) -> None:
        """The HTTP → HTTPS redirect, and the anchoring of the audit log's head outside the database every
        MCC_AUDIT_ANCHOR_INTERVAL seconds; both as the origin's user."""
        self._start_module("inference-executor", "functions.inference.executor")
        self._start_module("audit-anchors", "mcc_local.anchoring", os.environ.get("MCC_AUDIT_ANCHOR_INTERVAL", "300"))
        self._start_module("http-redirect", "mcc_local.redirect", str(self.ports.http), self.public_url)
        wait_for_http(f"http://127.0.0.1:{self.ports.http}/", timeout=30, ready=lambda status: True,
                      alive=lambda: self.procs.is_running("http-redirect"))

    def _start_module(self, name: str, module: str, *args: str, inherit_output: bool = False) -> None:
        """`python -m module args` as the origin's user, with the launcher's settings (the functions' MCC_*)."""
        self.procs.start(name, [sys.executable, "-m", module, *args], cwd=ROOT, run_as=users.APP,
                         env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'local-dev'}"},
                         inherit_output=inherit_output)

    def _tls(self) -> tuple[Path, Path]:
        """The origin's certificate and key: the operator's (readable by the origin's user), or a generated one."""
        supplied = os.environ.get("MCC_TLS_CERT"), os.environ.get("MCC_TLS_KEY")
        if all(supplied):
            return Path(supplied[0]), Path(supplied[1])
        pair = ensure_self_signed_cert(self.state / "tls", ["localhost"])
        users.hand_over(self.state / "tls", users.APP)
        return pair

    def demo_accounts(self) -> list[tuple[str, str, str]]:
        """Create the demo admin, researcher and approved health professional once; return their logins."""
        from functions.auth import accounts
        from functions.common.platform import db

        logins = []
        with db.session_scope() as session:
            for role, email, name in DEMO_USERS:
                password = _secret(self.state / "secrets" / f"demo-{role}-password")
                if accounts.by_email(session, email) is None:
                    accounts.create_user(session, email=email, name=name, role=role, password=password,
                                         email_verified=True, status="active")
                logins.append((role, email, password))
        return logins

    def demo_study(self, owner_email: str) -> None:
        """Load a generated 64-slice chest CT for the demo health professional, once."""
        from sqlalchemy import func, select

        from functions.auth import accounts
        from functions.common.access.policy import may_store
        from functions.common.dicom.index import Study
        from functions.common.dicom.ingest import Ingest
        from functions.common.dicom.validation import check_instance, parse_part10
        from functions.common.platform import db
        from functions.common.security.tokens import Principal
        from mcc_local.dicomgen import Patient, ct_series, to_bytes

        with db.session_scope() as session:
            owner = accounts.by_email(session, owner_email)
            if session.scalar(select(func.count()).select_from(Study).where(Study.owner_id == owner.id)):
                return
            patient = Patient(name="DEMO^CHEST^CT", patient_id="MCC-DEMO-0001", birth_date="19650412", sex="F",
                              accession="DEMO0001")
            principal = Principal.acting_for(owner.id, role=owner.role, status=owner.status)
            with Ingest(session, owner.id, may_store=may_store(principal)) as ingest:
                for ds in ct_series(patient, slices=64, rows=256, columns=256, study_date="20260115"):
                    parsed = parse_part10(to_bytes(ds))
                    check_instance(parsed)
                    ingest.add(parsed)
                failed = [o.error for o in ingest.finish() if o.error is not None]
            if failed:
                raise RuntimeError(f"the demo study could not be stored: {failed[0]}")
        log.info("demo study loaded for %s", owner_email)

    def demo_models(self, researcher_email: str) -> None:
        """The two sample models, published for the demo researcher and to health professionals, once."""
        from functions.common.platform.config import get_settings

        demo_models.load(researcher_email)
        settings = get_settings()
        users.hand_over(settings.bundles_path, users.APP, group=users.SHARED_GROUP, dir_mode=0o2755, file_mode=0o644)
        users.hand_over(settings.objects_path, users.APP, group=users.SHARED_GROUP, dir_mode=0o2770,
                        file_mode=0o660)

    def _announce(self, cert: Path, logins: list[tuple[str, str, str]]) -> None:
        lines = [
            "",
            "MedCloudCare is running.",
            f"  Portal:   {self.public_url}/   (HTTP on port {self.ports.http} redirects here)",
            f"  TLS certificate SHA-256: {cert_fingerprint(cert)}",
            "  Demo logins (admins enrol two-factor authentication on first use of admin pages):",
            *[f"    {role:<20} {email:<40} {password}" for role, email, password in logins],
            f"  Mail: {'sink on 127.0.0.1:%d, links are printed below' % self.ports.smtp if self.use_sink else 'SMTP ' + os.environ['MCC_SMTP_HOST']}",
            "  Stop with Ctrl-C, or ./local-dev/down from another terminal.",
            "",
        ]
        print("\n".join(lines), flush=True)

    # ------------------------------------------------------------------ down
    def down(self) -> None:
        self.procs.stop_all()
        self.pg.stop()
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mcc_local.launcher", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    platform = Platform(Path(os.environ.get("MCC_STATE_DIR", ROOT / "var")), Ports.from_env())
    if args.command == "down":
        platform.down()
        pid_file = _launcher_pid_file(platform)
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
            pid_file.unlink(missing_ok=True)
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    pid_file = _launcher_pid_file(platform)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    lock = open(pid_file.with_suffix(".lock"), "w")  # held for the launcher's lifetime
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        running = pid_file.read_text().strip() if pid_file.exists() else "?"
        print(f"MedCloudCare is already running from {platform.state} (launcher pid {running}); "
              "stop it with ./local-dev/down first.", file=sys.stderr)
        return 1
    pid_file.write_text(str(os.getpid()))
    try:
        platform.up()
        stop.wait()
    finally:
        print("Stopping MedCloudCare…", flush=True)
        platform.down()
    return 0


def _launcher_pid_file(platform: Platform) -> Path:
    return platform.state / "run" / "launcher.pid"


if __name__ == "__main__":
    sys.exit(main())
