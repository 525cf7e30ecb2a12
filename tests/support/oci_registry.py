"""A real OCI registry for tests: Debian's docker-registry on a free loopback port, its storage in a scratch
directory, started and stopped around a block (waits until /v2/ answers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mcc_local.procs import free_port, scratch_dir

from model_builder.images.local_registry import LoopbackRegistry


@contextmanager
def loopback_registry() -> Iterator[LoopbackRegistry]:
    """A started registry at `registry.address`; stopped and its storage removed afterwards."""
    with scratch_dir("mcc-registry-") as root:
        registry = LoopbackRegistry(root, free_port())
        registry.start()
        try:
            yield registry
        finally:
            registry.stop()
