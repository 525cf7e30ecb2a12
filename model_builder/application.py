"""`Application`: the workflow the runtime calls; its `run()` is mandatory."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from .outputs import Output
from .volume import Volume


class Application(ABC):
    """A model's entry point: the runtime builds it once with the bundle's directory, then calls `run` per series.

    Load weights in `__init__` (from `self.bundle_dir`), not in `run`, so a warm service answers fast.
    """

    def __init__(self, bundle_dir: str | Path = ".") -> None:
        self.bundle_dir = Path(bundle_dir)

    @abstractmethod
    def run(self, volume: Volume) -> Output | list[Output]:
        """Run the workflow on one series and return its output(s)."""
