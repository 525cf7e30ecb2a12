"""Fixtures for the model sandbox: the sandbox user, bundles it may read, real deployers, a CT volume.

These tests run as root (bubblewrap as another user, cgroups), like the deploy host they exercise.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mcc_local.users import RunAs, grant_traverse

from model_builder import Volume
from model_builder.deploy import ServiceSpec
from model_builder.deploy.local import LocalDeployer
from model_builder.deploy.sandbox import SandboxConfig
from model_builder.testing.bundles import CLASSICAL_TEMPLATE
from tests.model_services.helpers import TEST_BUNDLES, assert_serves_body_mask, load_template_application

SANDBOX_USER = "mcc-model"


@pytest.fixture(scope="session")
def sandbox_user() -> str:
    """The unprivileged user instances run as (the platform's installer creates it; here, if missing)."""
    try:
        pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SANDBOX_USER],
                       check=True, capture_output=True)
    config = SandboxConfig(user=SANDBOX_USER)
    for path in (*config.resolved_runtime_dirs(), config.package_dir):
        grant_traverse(path, (RunAs(SANDBOX_USER),))  # as scripts/install does for the platform's users
    return SANDBOX_USER


@pytest.fixture(scope="session")
def bundles_root(sandbox_user: str) -> Iterator[Path]:
    """A directory of bundles the sandbox user may read: the classical template and the test bundles."""
    root = Path(tempfile.mkdtemp(prefix="mcc-bundles-"))
    shutil.copytree(CLASSICAL_TEMPLATE, root / "classical")
    for bundle in ("probe", "broken"):
        shutil.copytree(TEST_BUNDLES / bundle, root / bundle)
    for current, _dirs, files in os.walk(root):
        os.chmod(current, 0o755)
        for name in files:
            os.chmod(os.path.join(current, name), 0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def deployer(sandbox_user: str) -> Iterator[LocalDeployer]:
    """One real deployer shared by a module's tests, so each escape is followed by healthy calls on it."""
    with LocalDeployer(config=SandboxConfig(user=sandbox_user), stop_grace=5) as local:
        yield local


@pytest.fixture(scope="session")
def ct() -> Volume:
    """A small synthetic CT: air around a soft-tissue box with an air hole inside."""
    array = np.full((8, 48, 48), -1000, dtype=np.int16)
    array[1:7, 8:40, 8:40] = 40
    array[3:5, 20:28, 20:28] = -900
    return Volume(array, spacing=(2.0, 0.8, 0.8), modality="CT")


@pytest.fixture(scope="session")
def body_mask_reference(bundles_root: Path) -> Any:
    """The classical template run in-process."""
    return load_template_application(bundles_root / "classical")


@pytest.fixture(scope="module")
def healthy(deployer: LocalDeployer, bundles_root: Path, ct: Volume, body_mask_reference: Any) -> Callable[[], None]:
    """Checks that the module's deployer still serves the classical template correctly."""
    deployer.deploy(ServiceSpec("healthy", bundles_root / "classical", "body-mask", "1"))

    def check() -> None:
        assert_serves_body_mask(deployer, "healthy", ct, body_mask_reference)

    return check
