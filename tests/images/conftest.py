"""Fixtures of the image tests: a loopback registry, every image built and pushed once per session by the real
command (`python -m deploy.images build`), and the built images as objects (from the same layer cache)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_builder.images import recipes
from model_builder.images.local_registry import LoopbackRegistry
from model_builder.images.oci import Image, LayoutStore
from model_builder.images.registry import RegistryClient
from tests.support.oci_registry import loopback_registry

SAMPLE_BUNDLE = recipes.SAMPLE_BUNDLES[0]


@pytest.fixture(scope="session")
def registry() -> Iterator[LoopbackRegistry]:
    with loopback_registry() as running:
        yield running


@pytest.fixture(scope="session")
def images_work() -> Path:
    """The layer cache the CLI and bench use too (keyed by inputs: a changed file rebuilds its layer)."""
    return Path(os.environ.get("MCC_IMAGES_DIR", recipes.REPO / "var" / "images"))


@pytest.fixture(scope="session")
def build_output(registry: LoopbackRegistry, images_work: Path) -> str:
    """The one command, run for real: every image built and pushed to the loopback registry; its progress lines."""
    done = subprocess.run([sys.executable, "-m", "deploy.images", "build", "--registry", registry.address,
                           "--work", str(images_work)], cwd=recipes.REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="session")
def images(build_output: str, images_work: Path) -> dict[str, Image]:
    """The images the command pushed, as objects (same inputs: every layer comes from the cache it filled)."""
    ctx = recipes.Context.at(images_work)
    built = {name: recipe(ctx) for name, recipe in recipes.IMAGES.items()}
    built["model"] = recipes.model_version_image(ctx, SAMPLE_BUNDLE, "1")
    return built


@pytest.fixture(scope="session")
def store(images_work: Path) -> LayoutStore:
    return recipes.Context.at(images_work).store


@pytest.fixture(scope="session")
def client(registry: LoopbackRegistry) -> RegistryClient:
    return RegistryClient(registry.address)
