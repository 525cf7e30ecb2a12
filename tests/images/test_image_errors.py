"""Bad input gets a clear error before anything is uploaded: an unreachable registry is named, a bad image name or
tag is named with the rule it breaks, the command exits 1 (or 2 for bad arguments) with a one-line reason."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mcc_local.procs import free_port

from model_builder.images import recipes
from model_builder.images.errors import BadImageName, RegistryError
from model_builder.images.local_registry import LoopbackRegistry
from model_builder.images.oci import Image, LayoutStore
from model_builder.images.registry import RegistryClient, check_reference


def _command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deploy.images", *args], cwd=recipes.REPO, capture_output=True,
                          text=True, timeout=120)


def test_unreachable_registry_is_named_in_the_error() -> None:
    nobody = f"127.0.0.1:{free_port()}"

    with pytest.raises(RegistryError, match=f"registry {nobody}: cannot connect") as raised:
        RegistryClient(nobody).check()

    assert raised.value.registry == nobody


def test_command_with_unreachable_registry_exits_1_naming_it_before_building() -> None:
    nobody = f"127.0.0.1:{free_port()}"

    done = _command("build", "--registry", nobody, "--only", "orthanc")

    assert done.returncode == 1
    assert f"error: registry {nobody}: cannot connect" in done.stderr
    assert "building" not in done.stdout


@pytest.mark.parametrize(("name", "tag", "field"), [
    ("MCC/Functions", "latest", "name"),
    ("mcc//functions", "latest", "name"),
    ("mcc/functions-", "latest", "name"),
    ("mcc/functions", "-latest", "tag"),
    ("mcc/functions", "a" * 129, "tag"),
    ("mcc/functions", "v1:2", "tag"),
])
def test_bad_image_name_or_tag_is_refused_naming_the_field(name: str, tag: str, field: str) -> None:
    with pytest.raises(BadImageName, match=f"^{field}: ") as raised:
        check_reference(name, tag)

    assert raised.value.field == field


def test_push_refuses_a_bad_tag_before_uploading(images: dict[str, Image], client: RegistryClient,
                                                 store: LayoutStore) -> None:
    image = images["orthanc"]
    bad = Image(image.name, "bad tag", image.layers, image.config, image.manifest, image.manifest_bytes)

    with pytest.raises(BadImageName, match="tag: 'bad tag'"):
        client.push(bad, store)


def test_bad_registry_address_is_refused() -> None:
    with pytest.raises(BadImageName, match="registry: 'http://127.0.0.1:5000/'"):
        RegistryClient("http://127.0.0.1:5000/")


def test_command_refuses_unknown_image_names_with_the_choices() -> None:
    done = _command("build", "--registry", "127.0.0.1:5000", "--only", "mainframe")

    assert done.returncode == 2
    assert "invalid choice: 'mainframe'" in done.stderr and "functions" in done.stderr


def test_command_with_missing_bundle_exits_1_naming_it_before_building(registry: LoopbackRegistry) -> None:
    done = _command("build", "--registry", registry.address, "--only", "models", "--bundle", "/nonexistent/bundle=2")

    assert done.returncode == 1
    assert "error: bundle: /nonexistent/bundle does not exist" in done.stderr
    assert "building" not in done.stdout
