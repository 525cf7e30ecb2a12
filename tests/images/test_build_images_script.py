"""scripts/build-images without --registry starts a loopback registry itself, pushes there and prints the
references; registry-down stops it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from mcc_local.procs import free_port, scratch_dir

from model_builder.images import recipes
from model_builder.images.local_registry import LoopbackRegistry
from model_builder.images.registry import RegistryClient


def test_script_starts_its_own_registry_pushes_and_prints_references(images_work: Path) -> None:
    port = free_port()
    with scratch_dir("mcc-script-registry-") as registry_dir:
        env = {**os.environ, "MCC_REGISTRY_PORT": str(port), "MCC_REGISTRY_DIR": str(registry_dir)}
        try:
            done = subprocess.run([str(recipes.REPO / "scripts" / "build-images"), "--only", "orthanc",
                                   "--work", str(images_work)], env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-2000:]
            assert f"==> loopback registry at 127.0.0.1:{port}" in done.stdout
            pushed = re.search(rf"pushed 127\.0\.0\.1:{port}/mcc/orthanc:latest@(sha256:[0-9a-f]{{64}})", done.stdout)
            assert pushed is not None, done.stdout
            _, digest = RegistryClient(f"127.0.0.1:{port}").manifest("mcc/orthanc", "latest")
            assert digest == pushed.group(1)
        finally:
            subprocess.run([sys.executable, "-m", "deploy.images", "registry-down", "--port", str(port), "--dir",
                            str(registry_dir)], cwd=recipes.REPO, check=True, timeout=60)
        assert not LoopbackRegistry(registry_dir, port).answering()
