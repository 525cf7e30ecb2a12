"""The images run: their layers unpacked into a root file system, started the way the config says (Entrypoint,
Cmd, Env, WorkingDir, User) under bubblewrap with that root read-only, /tmp a tmpfs, and the config's non-root
uid inside and outside the sandbox; no daemon, no base image."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from mcc_local.procs import free_port, scratch_dir
from pydicom.data import get_testdata_file

from model_builder.images.oci import Image, LayoutStore, unpack
from model_builder.images.recipes import ORTHANC_VOLUME

FUNCTIONS = ("auth", "studies", "sharing", "models", "inference", "dicomweb")


def _config(store: LayoutStore, image: Image) -> dict:
    return json.loads(store.path(image.config.digest).read_text())["config"]


def _sandboxed(rootfs: Path, config: dict, argv: list[str] | None = None) -> list[str]:
    """bwrap argv running `argv` (default: the config's Entrypoint + Cmd) as the config's user on a read-only root."""
    uid, _, gid = config["User"].partition(":")
    env = [arg for item in config["Env"] for arg in ("--setenv", *item.split("=", 1))]
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
            "bwrap", "--ro-bind", str(rootfs), "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--unshare-user", "--unshare-pid", "--die-with-parent", "--uid", uid, "--gid", gid,
            "--chdir", config["WorkingDir"], "--clearenv", *env,
            *(argv if argv is not None else [*config["Entrypoint"], *config["Cmd"]])]


@pytest.fixture(scope="module")
def rootfs_of(images: dict[str, Image], store: LayoutStore) -> Iterator:
    """Unpack an image once per module (each unpacked root removed afterwards)."""
    roots: dict[str, Path] = {}
    with scratch_dir("mcc-rootfs-") as scratch:
        def rootfs(name: str) -> Path:
            if name not in roots:
                roots[name] = scratch / name
                roots[name].mkdir()
                unpack(store, images[name], roots[name])
            return roots[name]
        yield rootfs


def _answer(url: str, auth: tuple[str, str] | None) -> requests.Response | None:
    try:
        return requests.get(url, timeout=10, auth=auth)
    except requests.ConnectionError:
        return None


def _serve(argv: list[str], url: str, timeout: float,
           auth: tuple[str, str] | None = None) -> Iterator[requests.Response]:
    """Start the sandboxed server, wait for `url`, yield its answer once; stop it and show its output afterwards."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while (answer := _answer(url, auth)) is None:
            assert process.poll() is None, f"exited with {process.returncode} before serving"
            assert time.monotonic() < deadline, f"{url} not served within {timeout} s"
            time.sleep(0.2)
        yield answer
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode(errors="replace")
        print(output[-2000:])


def test_function_image_serves_the_target_chosen_at_run_time(images: dict[str, Image], store: LayoutStore,
                                                             rootfs_of) -> None:
    config = _config(store, images["functions"])
    port = free_port()
    config["Env"] = [*config["Env"], f"PORT={port}"]
    argv = _sandboxed(rootfs_of("functions"), config, [*config["Entrypoint"], "--target=studies"])

    for response in _serve(argv, f"http://127.0.0.1:{port}/healthz", timeout=60):
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(("image", "modules"), [
    ("functions", [f"functions.{name}.main" for name in FUNCTIONS]),
    ("portal", ["mcc_local.origin"]),
])
def test_image_holds_every_package_its_code_imports(images: dict[str, Image], store: LayoutStore, rootfs_of,
                                                    image: str, modules: list[str]) -> None:
    config = _config(store, images[image])
    probe = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\nprint('ok')"

    done = subprocess.run(_sandboxed(rootfs_of(image), config, ["/usr/bin/python3.11", "-c", probe, *modules]),
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")


def test_function_image_user_is_non_root_and_can_write_only_tmp(images: dict[str, Image], store: LayoutStore,
                                                               rootfs_of) -> None:
    config = _config(store, images["functions"])
    probe = ("import os\nopen('/tmp/ok', 'w').write('x')\ntry:\n    open('/app/x', 'w')\nexcept OSError as e:\n"
             "    print(os.getuid(), os.getgid(), e.strerror)\n")

    done = subprocess.run(_sandboxed(rootfs_of("functions"), config, ["/usr/bin/python3.11", "-c", probe]),
                          capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=2) == ["65532", "65532", "Read-only file system\n"]


def test_model_image_serves_its_bundle_as_built(images: dict[str, Image], store: LayoutStore, rootfs_of) -> None:
    config = _config(store, images["model"])
    port = free_port()
    cmd = [*config["Cmd"]]
    cmd[cmd.index("--port") + 1] = str(port)
    cmd[cmd.index("--host") + 1] = "127.0.0.1"
    argv = _sandboxed(rootfs_of("model"), config, [*config["Entrypoint"], *cmd])

    for response in _serve(argv, f"http://127.0.0.1:{port}/v2/health/ready", timeout=120):
        assert response.status_code == 200
        model = requests.get(f"http://127.0.0.1:{port}/v2/models/ct-bone-segmentation", timeout=10)
        assert model.status_code == 200, model.text
        assert model.json()["versions"] == ["1"]


def test_portal_image_serves_the_viewer_precompressed_and_the_functions(images: dict[str, Image],
                                                                        store: LayoutStore, rootfs_of) -> None:
    config = _config(store, images["portal"])
    port = free_port()
    entrypoint = [*config["Entrypoint"]]
    entrypoint[entrypoint.index("--bind") + 1] = f"127.0.0.1:{port}"
    rootfs = rootfs_of("portal")
    argv = _sandboxed(rootfs, config, [*entrypoint, *config["Cmd"]])

    for response in _serve(argv, f"http://127.0.0.1:{port}/api/studies/healthz", timeout=60):
        assert response.json() == {"status": "ok"}
        viewer = requests.get(f"http://127.0.0.1:{port}/viewer/", headers={"Accept-Encoding": "br"}, timeout=10,
                              stream=True)
        assert viewer.headers["Content-Encoding"] == "br"
        assert viewer.raw.read() == (rootfs / "app/web/ohif-dist/index.html.br").read_bytes()


def test_orthanc_image_stores_instances_sealed_by_its_storage_plugin(images: dict[str, Image], store: LayoutStore,
                                                                     rootfs_of) -> None:
    """Configured as knative/base/orthanc.yaml does: settings and the REST user in the environment, a volume."""
    config = _config(store, images["orthanc"])
    with scratch_dir("mcc-orthanc-image-") as scratch:
        _store_and_read_back(rootfs_of("orthanc"), config, scratch)


def _store_and_read_back(rootfs: Path, config: dict, scratch: Path) -> None:
    uid, _, gid = config["User"].partition(":")
    data = scratch / "data"
    data.mkdir()
    os.chown(data, int(uid), int(gid))
    port, password = free_port(), secrets.token_urlsafe(16)
    settings = {"HttpPort": port, "MedCloudCare": {"KeyDir": f"{ORTHANC_VOLUME}/keys"}}
    config = {**config, "Env": [*config["Env"], f"MCC_ORTHANC_CONFIG={json.dumps(settings)}",
                                "MCC_ORTHANC_USERNAME=mcc", f"MCC_ORTHANC_PASSWORD={password}"]}
    argv = _sandboxed(rootfs, config)
    bwrap_end = argv.index("--clearenv")
    argv[bwrap_end:bwrap_end] = ["--bind", str(data), ORTHANC_VOLUME]
    dicom = Path(get_testdata_file("CT_small.dcm")).read_bytes()

    for response in _serve(argv, f"http://127.0.0.1:{port}/system", timeout=60, auth=("mcc", password)):
        assert response.status_code == 200
        stored = requests.post(f"http://127.0.0.1:{port}/instances", data=dicom, auth=("mcc", password), timeout=30)
        assert stored.status_code == 200, stored.text
        back = requests.get(f"http://127.0.0.1:{port}/instances/{stored.json()['ID']}/file", auth=("mcc", password),
                            timeout=30)
        assert back.content == dicom

    sealed = [p for p in (data / "sealed").rglob("*") if p.is_file()]
    assert sealed and all(b"DICM" not in p.read_bytes() for p in sealed)
    assert not [p for p in (data / "storage").rglob("*") if p.is_file()]


@pytest.mark.parametrize(("variables", "named"), [
    (["MCC_ORTHANC_CONFIG=[1]"], "MCC_ORTHANC_CONFIG: must be a JSON object"),
    (["MCC_ORTHANC_CONFIG={nope"], "MCC_ORTHANC_CONFIG: not JSON"),
    (["MCC_ORTHANC_USERNAME=mcc"], "MCC_ORTHANC_USERNAME, MCC_ORTHANC_PASSWORD: give both or neither"),
])
def test_orthanc_image_refuses_bad_settings_naming_the_variable(images: dict[str, Image], store: LayoutStore,
                                                                 rootfs_of, variables: list[str], named: str) -> None:
    config = _config(store, images["orthanc"])
    config = {**config, "Env": [*config["Env"], *variables]}

    done = subprocess.run(_sandboxed(rootfs_of("orthanc"), config), capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert named in done.stderr
