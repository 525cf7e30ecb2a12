"""Fixtures for the cloud deployment: the Kubernetes API stand-in, a `KnativeDeployer` on it, rendered overlays,
and a real model runtime on a loopback port standing in for a model service's pods."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcc_local.procs import free_port, wait_for_http

from deploy.kustomize import render
from model_builder.deploy import Limits, ServiceSpec
from model_builder.deploy.knative import KnativeDeployer
from model_builder.deploy.knative_objects import ClusterSettings
from model_builder.testing.bundles import CLASSICAL_TEMPLATE
from tests.support.kube_api_standin import KubeApiStandin

ROOT = Path(__file__).resolve().parents[2]
KNATIVE = ROOT / "knative"
OVERLAYS = ("kind", "gke")
NAMESPACE = "mcc-test"


@pytest.fixture
def kube_api() -> Iterator[KubeApiStandin]:
    """A fresh, empty stand-in API server on loopback."""
    with KubeApiStandin() as standin:
        yield standin


@pytest.fixture
def knative(kube_api: KubeApiStandin) -> KnativeDeployer:
    """The deployer, through the kubernetes client configured with host=http://127.0.0.1:PORT."""
    return KnativeDeployer(ClusterSettings(namespace=NAMESPACE, image="registry.test/mcc/models:{bundle}"),
                           api_url=kube_api.url)


@pytest.fixture
def make_spec() -> Callable[..., ServiceSpec]:
    """A model version's spec: the classical template's bundle, named `name`, with any limits."""

    def make(name: str = "m-0123456789abcdef0123-v1", version: str = "1", **limits: Any) -> ServiceSpec:
        return ServiceSpec(name, CLASSICAL_TEMPLATE, "body-mask", version, limits=Limits(**limits))

    return make


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every overlay, rendered once."""
    return {overlay: render(KNATIVE / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="module")
def model_runtime() -> Iterator[str]:
    """The real model runtime serving the classical template on a loopback port (a model service's pod); its URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "model_builder.runtime", "--bundle", str(CLASSICAL_TEMPLATE),
                                "--port", str(port), "--name", "body-mask", "--version", "1"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/v2/health/ready", timeout=60, alive=lambda: process.poll() is None)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
