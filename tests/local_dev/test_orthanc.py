"""The local Orthanc: authenticated, loopback-only, DICOMweb enabled, contained in its directory."""

from __future__ import annotations

import json
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mcc_local.orthanc import OrthancError, OrthancServer
from mcc_local.procs import ProcessGroup, free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    orthanc = OrthancServer(tmp_path_factory.mktemp("orthanc"), port=free_port())
    orthanc.start()
    yield orthanc
    orthanc.stop()


def test_system_answers_with_credentials(server: OrthancServer) -> None:
    response = requests.get(f"{server.url}/system", auth=server.credentials, timeout=5)
    assert response.status_code == 200
    assert response.json()["HttpPort"] == server.port


def test_system_refuses_requests_without_credentials(server: OrthancServer) -> None:
    assert requests.get(f"{server.url}/system", timeout=5).status_code == 401
    wrong = (server.credentials.username, "not-the-password")
    assert requests.get(f"{server.url}/system", auth=wrong, timeout=5).status_code == 401


def test_dicomweb_studies_answers_json(server: OrthancServer) -> None:
    response = requests.get(
        f"{server.dicomweb_url}/studies",
        auth=server.credentials,
        headers={"Accept": "application/dicom+json"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json() == []


def test_dicom_listener_is_off_by_default(server: OrthancServer) -> None:
    config = json.loads(server.config_path.read_text())
    assert config["DicomServerEnabled"] is False
    assert config["RemoteAccessAllowed"] is False


def test_secrets_are_private_files(server: OrthancServer) -> None:
    for path in (server.config_path, server.credentials_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(server.credentials.password) >= 32


def test_everything_orthanc_writes_is_inside_its_directory(server: OrthancServer) -> None:
    config = json.loads(server.config_path.read_text())
    for key in ("StorageDirectory", "IndexDirectory", "TemporaryDirectory"):
        assert Path(config[key]).is_relative_to(server.directory)
    assert server.log_path.is_relative_to(server.directory)
    assert "Orthanc has started" in server.log_path.read_text()


def test_start_is_idempotent(server: OrthancServer) -> None:
    pid = server.processes.running()["orthanc"]
    server.start()
    assert server.processes.running()["orthanc"] == pid


def test_restart_keeps_credentials_and_stored_resources(tmp_path: Path) -> None:
    port = free_port()
    first = OrthancServer(tmp_path, port=port)
    first.start()
    try:
        upload = requests.put(
            f"{first.url}/tools/default-encoding", data="Utf8", auth=first.credentials, timeout=5
        )
        assert upload.status_code == 200
    finally:
        first.stop()
    assert not first.is_running()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{first.url}/system", timeout=2)

    second = OrthancServer(tmp_path, port=port)
    second.start()
    try:
        assert second.credentials == first.credentials
        assert requests.get(f"{second.url}/system", auth=second.credentials, timeout=5).ok
    finally:
        second.stop()


def test_down_command_stops_it_through_pid_files(tmp_path: Path) -> None:
    orthanc = OrthancServer(tmp_path, port=free_port(), processes=ProcessGroup(tmp_path / "state"))
    orthanc.start()
    ProcessGroup(tmp_path / "state").stop_all()  # What a separate `down` process does.
    assert not orthanc.is_running()
    assert not list((tmp_path / "state" / "pids").glob("*.pid"))


def test_python_script_is_loaded(tmp_path: Path) -> None:
    script = tmp_path / "plugin.py"
    script.write_text(
        "import orthanc\n"
        "def ping(output, uri, **request):\n"
        "    output.AnswerBuffer('pong', 'text/plain')\n"
        "orthanc.RegisterRestCallback('/mcc-ping', ping)\n"
    )
    orthanc = OrthancServer(tmp_path / "orthanc", port=free_port(), python_script=script)
    orthanc.start()
    try:
        response = requests.get(f"{orthanc.url}/mcc-ping", auth=orthanc.credentials, timeout=5)
        assert response.text == "pong"
    finally:
        orthanc.stop()


def test_busy_port_fails_fast_with_the_log_tail(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        orthanc = OrthancServer(tmp_path, port=blocker.getsockname()[1])
        started = time.monotonic()
        with pytest.raises(OrthancError, match="did not become ready") as failure:
            orthanc.start()
    assert time.monotonic() - started < 20
    assert str(orthanc.log_path) in str(failure.value)
    assert not orthanc.is_running()


def test_only_loopback_clients_are_allowed(server: OrthancServer) -> None:
    # Orthanc 1.10 has no bind-address option: it listens on every interface and must refuse
    # non-loopback clients itself (a request from another address is never sent from tests).
    config = server.build_config()
    assert config["RemoteAccessAllowed"] is False
    assert config["AuthenticationEnabled"] is True
