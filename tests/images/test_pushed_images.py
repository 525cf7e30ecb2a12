"""Every image, built and pushed by the one command, reads back from a real registry as built: manifests and configs
by digest, model images as the runtime base plus exactly the bundle, non-root, nothing to compile or install with."""

from __future__ import annotations

import functools
import gzip
import io
import re
import tarfile
from pathlib import Path, PurePosixPath

from model_builder.images import recipes
from model_builder.images.oci import Image, LayoutStore, read_layer_members
from model_builder.images.registry import RegistryClient

SAMPLE_BUNDLE = recipes.SAMPLE_BUNDLES[0]
FORBIDDEN_PROGRAMS = {"gcc", "cc", "c++", "g++", "cpp", "ld", "as", "make", "apt", "apt-get", "dpkg", "pip", "pip3",
                      "pip3.11", "easy_install", "conda"}


@functools.lru_cache(maxsize=None)
def _members(path: Path) -> tuple[tarfile.TarInfo, ...]:
    return tuple(read_layer_members(path))


def _all_members(store: LayoutStore, image: Image) -> list[tarfile.TarInfo]:
    return [m for layer in image.layers for m in _members(store.path(layer.digest))]


def test_one_command_pushed_every_image_and_each_reads_back_by_digest(
        build_output: str, images: dict[str, Image], client: RegistryClient) -> None:
    for image in images.values():
        manifest, digest = client.manifest(image.name, image.tag)

        assert digest == image.manifest.digest
        assert f"/{image.reference}@{digest} " in build_output
        assert [layer["digest"] for layer in manifest["layers"]] == [layer.digest for layer in image.layers]
        assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"


def test_every_config_reads_back_and_runs_as_a_numeric_non_root_user(
        images: dict[str, Image], client: RegistryClient) -> None:
    for image in images.values():
        config = client.config(image.name, image.tag)

        user, _, group = config["config"]["User"].partition(":")
        assert user.isdigit() and int(user) != 0 and group.isdigit() and int(group) != 0, image.name
        assert config["rootfs"]["diff_ids"] == [layer.diff_id for layer in image.layers]
        assert config["config"]["Labels"]["org.opencontainers.image.title"].startswith("mcc-")


def test_model_image_is_the_runtime_base_plus_exactly_one_layer(images: dict[str, Image],
                                                                 client: RegistryClient) -> None:
    base, _ = client.manifest("mcc/model-runtime", "latest")
    model, _ = client.manifest(images["model"].name, "1")

    assert len(model["layers"]) == len(base["layers"]) + 1
    assert model["layers"][:-1] == base["layers"]


def test_model_image_last_layer_holds_exactly_the_bundle_files(images: dict[str, Image],
                                                               client: RegistryClient) -> None:
    model, _ = client.manifest(images["model"].name, "1")
    blob = client.blob(images["model"].name, model["layers"][-1]["digest"])

    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]

    expected = {f"opt/mcc/bundle/{p.relative_to(SAMPLE_BUNDLE).as_posix()}": p.read_bytes()
                for p in SAMPLE_BUNDLE.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert files == expected


def test_model_image_holds_no_compiler_package_manager_or_pip(images: dict[str, Image], store: LayoutStore) -> None:
    members = _all_members(store, images["model"])
    names = [PurePosixPath(m.name) for m in members]

    programs = {p.name for p in names if p.parent.name in ("bin", "sbin") and not str(p).startswith("opt/mcc/site")}
    assert programs & FORBIDDEN_PROGRAMS == set()
    assert programs <= {"python3.11"}  # a distroless base: the interpreter and nothing else to run
    packages = {p.parts[3] for p in names if str(p).startswith("opt/mcc/site-packages/") and len(p.parts) > 3}
    assert not {"pip", "setuptools", "wheel"} & packages
    assert not any(re.match(r"(pip|setuptools)-.*\.dist-info$", pkg) for pkg in packages)
    assert "torch" in packages and "monai" in packages  # the runtime is really there


def test_images_own_nothing_writable_outside_tmp(images: dict[str, Image], store: LayoutStore) -> None:
    for name in ("functions", "model", "orthanc"):
        members = _all_members(store, images[name])
        owned = [m.name for m in members if m.uid != 0 or m.gid != 0]
        world_writable = [m.name for m in members if m.mode & 0o002 and not m.issym()]

        assert owned == [], name
        assert world_writable == ["tmp"], name
        assert not any(m.mode & 0o6000 for m in members), name  # no setuid/setgid programs


def test_function_image_selects_the_function_by_target(images: dict[str, Image], client: RegistryClient,
                                                       store: LayoutStore) -> None:
    config = client.config("mcc/functions", "latest")["config"]

    assert config["Entrypoint"] == ["/usr/local/bin/functions-framework"]
    assert config["Cmd"] == ["--target=auth"]
    sources = {m.name for m in _all_members(store, images["functions"]) if m.name.endswith("/main.py")}
    for function in ("auth", "studies", "sharing", "models", "inference", "dicomweb"):
        assert f"app/functions/{function}/main.py" in sources


def test_portal_image_holds_precompressed_siblings(images: dict[str, Image], store: LayoutStore) -> None:
    files = {m.name for m in _all_members(store, images["portal"]) if m.isfile()}
    compressed = [f for f in files if f.endswith(".br")]

    assert "app/web/dist/index.html.br" in files and "app/web/ohif-dist/index.html.br" in files
    assert len(compressed) > 10
    for name in compressed:
        assert name.removesuffix(".br") in files and name.removesuffix(".br") + ".gz" in files


def test_pushing_again_uploads_nothing(images: dict[str, Image], client: RegistryClient, store: LayoutStore) -> None:
    again = client.push(images["model"], store)

    assert again.uploaded == 0 and again.mounted == 0
    assert again.skipped == len(images["model"].layers) + 1
