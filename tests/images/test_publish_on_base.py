"""A model version's image made in the registry on top of the runtime base already pushed (what the knative deployer
does on publish): the same bundle layer as a full local build, the base's layers linked, not uploaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model_builder.images import publish, recipes
from model_builder.images.errors import BadImageName, RegistryError
from model_builder.images.oci import Image
from model_builder.images.registry import RegistryClient

SAMPLE_BUNDLE = recipes.SAMPLE_BUNDLES[0]


def test_a_version_on_the_pushed_base_is_the_base_plus_the_bundle_layer(
        images: dict[str, Image], client: RegistryClient, registry, tmp_path: Path) -> None:
    base = images["model-runtime"]
    pushed = publish.publish_version(SAMPLE_BUNDLE, base=f"{registry.address}/{base.reference}",
                                     target=f"{registry.address}/mcc/models:sample-1", work=tmp_path, version="7")
    assert (pushed.uploaded, pushed.mounted) == (2, len(base.layers))  # the bundle layer and the config only

    manifest, digest = client.manifest("mcc/models", "sample-1")
    assert digest == pushed.digest
    layers = [layer["digest"] for layer in manifest["layers"]]
    assert layers[:-1] == [layer.digest for layer in base.layers]
    assert layers[-1] == images["model"].layers[-1].digest  # built here, identical to the full local build's
    config = client.config("mcc/models", "sample-1")
    base_config = client.config(base.name, base.tag)
    assert config["rootfs"]["diff_ids"] == [*base_config["rootfs"]["diff_ids"], images["model"].layers[-1].diff_id]
    assert config["config"]["User"] == base_config["config"]["User"] == "65532:65532"
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == "7"
    assert publish.exists(f"{registry.address}/mcc/models:sample-1")
    assert not publish.exists(f"{registry.address}/mcc/models:never-pushed")


def test_the_same_bundle_again_gives_the_same_image(images: dict[str, Image], registry, tmp_path: Path) -> None:
    base = f"{registry.address}/{images['model-runtime'].reference}"
    copy = tmp_path / "bundle"
    shutil.copytree(SAMPLE_BUNDLE, copy)
    first = publish.publish_version(SAMPLE_BUNDLE, base=base, target=f"{registry.address}/mcc/models:a",
                                    work=tmp_path / "w1")
    again = publish.publish_version(copy, base=base, target=f"{registry.address}/mcc/models:b", work=tmp_path / "w2")
    assert first.digest == again.digest and again.uploaded == 0


def test_bad_references_and_a_missing_base_are_clear_errors(images: dict[str, Image], registry,
                                                            tmp_path: Path) -> None:
    base = f"{registry.address}/{images['model-runtime'].reference}"
    with pytest.raises(BadImageName, match="registry/name:tag"):
        publish.publish_version(SAMPLE_BUNDLE, base=base, target="mcc/models:x", work=tmp_path)
    with pytest.raises(BadImageName, match="runtime base's registry"):
        publish.publish_version(SAMPLE_BUNDLE, base=base, target="registry.example.org/mcc/models:x", work=tmp_path)
    with pytest.raises(RegistryError, match="get manifest"):
        publish.publish_version(SAMPLE_BUNDLE, base=f"{registry.address}/mcc/no-such-base:1",
                                target=f"{registry.address}/mcc/models:x", work=tmp_path)
    assert json.loads((SAMPLE_BUNDLE / "manifest.json").read_text())  # the bundle itself is untouched


def test_the_knative_deployer_makes_a_missing_version_image_then_serves_it(
        images: dict[str, Image], client: RegistryClient, registry) -> None:
    """MCC_KNATIVE_RUNTIME_IMAGE set: deploying a version whose image is not in the registry makes it there first
    (then writes the Service naming it); the same spec again makes nothing."""
    from model_builder.deploy import ServiceSpec
    from model_builder.deploy.knative import ImageUnavailable, KnativeDeployer
    from model_builder.deploy.knative_objects import ClusterSettings
    from tests.support.kube_api_standin import SERVICES, KubeApiStandin

    base = f"{registry.address}/{images['model-runtime'].reference}"
    settings = ClusterSettings(namespace="mcc-test", image=f"{registry.address}/mcc/versions:{{bundle}}-{{version}}",
                               runtime_image=base)
    spec = ServiceSpec("m-0123456789abcdef0123-v3", SAMPLE_BUNDLE, "ct-bone", "3")
    with KubeApiStandin() as api:
        deployer = KnativeDeployer(settings, api_url=api.url)
        assert not client.has_manifest("mcc/versions", "ct_bone-3")
        deployer.deploy(spec)
        config = client.config("mcc/versions", "ct_bone-3")
        assert config["config"]["Labels"]["org.opencontainers.image.base.name"] == base
        service = api.get(SERVICES, "mcc-test", spec.name)
        assert service["spec"]["template"]["spec"]["containers"][0]["image"] == \
            f"{registry.address}/mcc/versions:ct_bone-3"
        writes = len(api.writes())
        deployer.deploy(spec)
        assert len(api.writes()) == writes

        missing_base = KnativeDeployer(ClusterSettings(namespace="mcc-test", image=settings.image,
                                                       runtime_image=f"{registry.address}/mcc/none:1"),
                                       api_url=api.url)
        other = ServiceSpec("m-0123456789abcdef0123-v4", SAMPLE_BUNDLE, "ct-bone", "4")
        with pytest.raises(ImageUnavailable, match="mcc/versions:ct_bone-4"):
            missing_base.deploy(other)
        assert api.get(SERVICES, "mcc-test", other.name) is None  # nothing written to the cluster
