"""Test bundle: fails while loading, after writing a host path to stderr (which the deployer must scrub)."""

import sys

from model_builder import Application

sys.stderr.write("cannot open /work/main/var/keys/platform/weights.key for the weights\n")


class BrokenApplication(Application):
    def __init__(self, bundle_dir: str = ".") -> None:
        super().__init__(bundle_dir)
        raise FileNotFoundError("models/model.pt is missing from the bundle")

    def run(self, volume):  # pragma: no cover - never reached
        raise AssertionError
