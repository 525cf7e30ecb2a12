"""The Debian Orthanc binary as a private, authenticated, loopback-only DICOM store."""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .procs import ProcessGroup, wait_for_http, write_private_file
from .users import RunAs, hand_over

logger = logging.getLogger(__name__)

DEFAULT_EXECUTABLE = Path("/usr/sbin/Orthanc")
PLUGIN_DIRS = (Path("/usr/share/orthanc/plugins"), Path("/usr/lib/orthanc"))
START_TIMEOUT = 30.0
PROCESS_NAME = "orthanc"


class OrthancError(RuntimeError):
    """Orthanc could not be configured or started; the message says why."""


@dataclass(frozen=True)
class PostgresIndex:
    """Orthanc's index in PostgreSQL (Debian's orthanc-postgresql) instead of SQLite in its directory: with the
    storage also off the pod (an S3 bucket), any number of Orthancs share one archive and none holds state.

    The password reaches Orthanc as libpq's PGPASSWORD in its environment, never in its configuration file."""

    host: str
    port: int
    database: str
    username: str
    password: str = field(repr=False)
    ssl: bool = False

    def config(self) -> dict[str, Any]:
        """The `PostgreSQL` section of Orthanc's configuration (the plugin's index only, never its storage)."""
        return {
            "EnableIndex": True,
            "EnableStorage": False,  # Attachments go through the encrypting storage plugin.
            "Host": self.host,
            "Port": self.port,
            "Database": self.database,
            "Username": self.username,
            "EnableSsl": self.ssl,
            # Several archive pods share the database: no exclusive lock (orthanc-postgresql 4.0 serialises
            # concurrent writers with its own transactions).
            "Lock": False,
            "MaximumConnectionRetries": 5,
            "ConnectionRetryInterval": 1,
        }


class Credentials(NamedTuple):
    """HTTP basic-auth user of the local Orthanc (a tuple, so `requests` accepts it as auth)."""

    username: str
    password: str


def find_plugin(package: str, library: str) -> Path:
    """Path of Orthanc plugin `lib<library>.so` shipped by Debian package `package`."""
    candidates: list[Path] = []
    if shutil.which("dpkg-query"):
        listing = subprocess.run(
            ["dpkg-query", "-L", package], capture_output=True, text=True, check=False
        )
        if listing.returncode == 0:
            candidates = [
                Path(line)
                for line in listing.stdout.splitlines()
                if Path(line).name.startswith(f"lib{library}.so")
            ]
    for directory in PLUGIN_DIRS:
        candidates.extend(sorted(directory.glob(f"lib{library}.so*")))
    # Prefer the unversioned link in the plugin folder, as Debian's own configuration does.
    candidates.sort(key=lambda p: (p.parent != PLUGIN_DIRS[0], p.name != f"lib{library}.so"))
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise OrthancError(
        f"Orthanc plugin lib{library}.so not found; install the Debian package {package} "
        "(scripts/install does it)"
    )


class OrthancServer:
    """Orthanc with every file (config, index, storage, log, temp) inside `directory`."""

    def __init__(
        self,
        directory: Path,
        *,
        port: int,
        dicom_port: int | None = None,
        python_script: Path | None = None,
        extra_plugins: Sequence[Path] = (),
        extra_config: Mapping[str, Any] | None = None,
        executable: Path = DEFAULT_EXECUTABLE,
        processes: ProcessGroup | None = None,
        run_as: RunAs | None = None,
        private_dirs: Sequence[Path] = (),
        index: PostgresIndex | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """`run_as`: the OS user Orthanc runs as when started by root; it gets `directory` and `private_dirs`
        (e.g. its key directory) for itself, mode 0700. `index`: keep the index in PostgreSQL (default: SQLite
        under `directory`). `environment`: variables added to Orthanc's (e.g. object-storage credentials), kept
        out of its configuration file."""
        if not 1 <= port <= 65535:
            raise ValueError(f"port: {port} is not a TCP port number")
        if dicom_port is not None and not (1 <= dicom_port <= 65535 and dicom_port != port):
            raise ValueError(f"dicom_port: {dicom_port} must be a TCP port other than {port}")
        if python_script is not None and not Path(python_script).is_file():
            raise ValueError(f"python_script: {python_script} is not a file")
        for plugin in extra_plugins:
            if not Path(plugin).exists():
                raise ValueError(f"extra_plugins: {plugin} does not exist")
        self.directory = Path(directory).absolute()
        self.port = port
        self.dicom_port = dicom_port
        self.python_script = Path(python_script).absolute() if python_script else None
        self.extra_plugins = [Path(p).absolute() for p in extra_plugins]
        self.extra_config = dict(extra_config or {})
        self.executable = Path(executable)
        self.run_as = run_as
        self.private_dirs = [Path(p).absolute() for p in private_dirs]
        self.index = index
        self.environment = dict(environment or {})
        self.processes = (
            processes if processes is not None else ProcessGroup(self.directory / "run")
        )
        self.config_path = self.directory / "orthanc.json"
        self.credentials_path = self.directory / "credentials.json"
        self.log_path = self.directory / "orthanc.log"
        self._credentials: Credentials | None = None

    @property
    def url(self) -> str:
        """Base URL of Orthanc's REST API, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb_url(self) -> str:
        """Base URL of the DICOMweb API (QIDO/WADO/STOW-RS), without a trailing slash."""
        return f"{self.url}/dicom-web"

    @property
    def credentials(self) -> Credentials:
        """The generated REST user, created on first use and kept 0600 in `directory`."""
        if self._credentials is None:
            self._credentials = self._load_or_create_credentials()
        return self._credentials

    def is_running(self) -> bool:
        """True if the Orthanc process started for `directory` is alive."""
        return self.processes.is_running(PROCESS_NAME)

    def start(self) -> None:
        """Start Orthanc and wait until GET /system answers with our credentials."""
        if not self.executable.exists():
            raise OrthancError(
                f"{self.executable} not found; install the Debian package orthanc "
                "(scripts/install does it)"
            )
        if self.is_running():
            self._wait_ready()
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = self.build_config()
        for key in ("IndexDirectory", "StorageDirectory", "TemporaryDirectory"):
            Path(config[key]).mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private_file(self.config_path, json.dumps(config, indent=2) + "\n")
        for private in (self.directory, *self.private_dirs):
            private.mkdir(parents=True, exist_ok=True, mode=0o700)
            hand_over(private, self.run_as)
        env = dict(os.environ)
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # Plugin imports must not write __pycache__ elsewhere.
        env["TMPDIR"] = config["TemporaryDirectory"]
        env.update(self.environment)
        if self.index is not None:
            env["PGPASSWORD"] = self.index.password
        logger.info("starting Orthanc on %s (log %s)", self.url, self.log_path)
        self.processes.start(
            PROCESS_NAME,
            [str(self.executable), str(self.config_path)],
            env=env,
            cwd=self.directory,
            log_path=self.log_path,
            run_as=self.run_as,
        )
        try:
            self._wait_ready()
        except OrthancError:
            self.stop()
            raise

    def stop(self, timeout: float = 15.0) -> None:
        """Stop Orthanc (SIGTERM, then SIGKILL after `timeout`); idempotent."""
        self.processes.stop(PROCESS_NAME, timeout)

    def kill(self) -> None:
        """End Orthanc with SIGKILL, as a crash would (outage tests); idempotent."""
        self.processes.kill(PROCESS_NAME)

    def build_config(self) -> dict[str, Any]:
        """The Orthanc configuration this server runs with."""
        plugins = [str(find_plugin("orthanc-dicomweb", "OrthancDicomWeb"))]
        if self.python_script is not None:
            plugins.append(str(find_plugin("orthanc-python", "OrthancPython")))
        if self.index is not None:
            plugins.append(str(find_plugin("orthanc-postgresql", "OrthancPostgreSQLIndex")))
        plugins.extend(str(p) for p in self.extra_plugins)
        user = self.credentials
        data = self.directory / "data"
        config: dict[str, Any] = {
            "Name": "MedCloudCare local",
            "StorageDirectory": str(data / "storage"),
            "IndexDirectory": str(data),
            "TemporaryDirectory": str(self.directory / "tmp"),
            "Plugins": plugins,
            "HttpServerEnabled": True,
            "HttpPort": self.port,
            # Orthanc 1.10 cannot bind one interface: it listens on all of them and
            # rejects every non-loopback client with this flag, and all without a password.
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {user.username: user.password},
            "SslEnabled": False,
            "WebDavEnabled": False,
            "ExecuteLuaEnabled": False,
            "RestApiWriteToFileSystemEnabled": False,
            "HttpsVerifyPeers": True,
            "DicomServerEnabled": self.dicom_port is not None,
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }
        ca_bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        if ca_bundle.exists():
            config["HttpsCACertificates"] = str(ca_bundle)
        if self.dicom_port is not None:
            # The DICOM listener is also on all interfaces: only registered modalities may store.
            config.update(
                {
                    "DicomPort": self.dicom_port,
                    "DicomAet": "MCC",
                    "DicomAlwaysAllowEcho": True,
                    "DicomAlwaysAllowStore": False,
                    "DicomCheckModalityHost": True,
                }
            )
        if self.python_script is not None:
            config["PythonScript"] = str(self.python_script)
            config["PythonVerbose"] = False
        if self.index is not None:
            config["PostgreSQL"] = self.index.config()
        config.update(self.extra_config)
        return config

    def _wait_ready(self) -> None:
        token = base64.b64encode(
            f"{self.credentials.username}:{self.credentials.password}".encode()
        ).decode()
        try:
            wait_for_http(
                f"{self.url}/system",
                START_TIMEOUT,
                headers={"Authorization": f"Basic {token}"},
                ready=lambda status: status == 200,
                alive=self.is_running,
            )
        except (TimeoutError, RuntimeError) as exc:
            raise OrthancError(
                f"Orthanc did not become ready on {self.url}: {exc}\n"
                f"--- {self.log_path} (tail) ---\n{self._log_tail()}"
            ) from exc
        logger.info("Orthanc ready on %s", self.url)

    def _load_or_create_credentials(self) -> Credentials:
        try:
            data = json.loads(self.credentials_path.read_text())
            return Credentials(str(data["username"]), str(data["password"]))
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError) as exc:
            raise OrthancError(
                f"{self.credentials_path} is unreadable ({exc}); "
                "delete it to generate new credentials"
            ) from exc
        credentials = Credentials("mcc", secrets.token_urlsafe(32))
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private_file(self.credentials_path, json.dumps(credentials._asdict()) + "\n")
        logger.info("generated Orthanc credentials in %s", self.credentials_path)
        return credentials

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(cannot read log: {exc})"
