"""Test bundles: `write_bundle(folder, "raises_in_run")` writes manifest.json and app.py for a known behaviour.

Line numbers in the sources are part of the contract: tests assert the researcher's file:line in errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CLASSICAL_TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "processing_classical"

_LABELS = [{"name": "Lesion", "code": {"value": "52988006", "scheme": "SCT", "meaning": "Lesion"}},
           {"name": "Cyst"}]

_RAISES_IN_RUN = '''\
from model_builder import Application


class Broken(Application):
    def run(self, volume):
        raise ValueError("the threshold is not set")
'''  # the raise is at app.py:6

_WRONG_SHAPE = '''\
import numpy as np

from model_builder import Application, LabelVolume


class WrongShape(Application):
    def run(self, volume):
        return LabelVolume(np.zeros((1, 1, 1), dtype=np.uint8))
'''

_FAILS_AT_IMPORT = '''\
import numpy as np

import a_package_nobody_installed  # app.py:3

from model_builder import Application
'''

_FAILS_IN_CONSTRUCTOR = '''\
from model_builder import Application


class NoWeights(Application):
    def __init__(self, bundle_dir="."):
        super().__init__(bundle_dir)
        (self.bundle_dir / "models" / "model.pt").read_bytes()  # app.py:7

    def run(self, volume):
        return None
'''

# One output of the manifest's task; "processing" answers two outputs (an image and a label map).
_EVERY_KIND = '''\
import json

import numpy as np

from model_builder import (Application, Box, Boxes, ImageOutput, InputError, LabelVolume, Point, Points,
                           Scores)


class EveryKind(Application):
    def __init__(self, bundle_dir="."):
        super().__init__(bundle_dir)
        self.task = json.loads((self.bundle_dir / "manifest.json").read_text())["task"]

    def run(self, volume):
        if "Refuse" in volume.attributes:
            raise InputError("Volume.attributes", "Refuse is set")
        z, y, x = volume.shape
        if self.task == "segmentation":
            return LabelVolume((volume.array > 0).astype(np.uint8) + (volume.array > 100))
        if self.task == "classification":
            return Scores({"Lesion": 0.75, "Cyst": 0.25})
        if self.task == "detection":
            return Boxes((Box(1, (0, 0, 0), (z - 1, y - 1, x - 1), 0.5), Box(2, (0, 1, 1), (0, 1, 1))))
        if self.task == "localisation":
            return [Points((Point(2, (0.0, 1.5, 0.25), 0.125),)), Points(())]
        return [ImageOutput(volume.array.astype(np.float32) * 2, "doubled"), LabelVolume(volume.array > 0)]
'''

# Blocks in run until the file named by the volume's "ReleaseFile" attribute exists (polled, 60 s at most);
# writes "<ReleaseFile>.started" when it begins and, given a "Journal" attribute, appends start/end lines to it.
_WAITS = '''\
import time
from pathlib import Path

import numpy as np

from model_builder import Application, LabelVolume


class Waits(Application):
    def run(self, volume):
        release = Path(volume.attributes["ReleaseFile"])
        journal = volume.attributes.get("Journal")
        self.note(journal, f"start:{release}")
        Path(str(release) + ".started").write_text("")
        deadline = time.monotonic() + 60
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.note(journal, f"end:{release}")
        return LabelVolume(np.zeros(volume.shape, dtype=np.uint8))

    def note(self, journal, line):
        if journal:
            with open(journal, "a") as f:
                f.write(line + "\\n")
'''

# name: (task, entry point class, app.py source)
BUNDLES: dict[str, tuple[str, str, str]] = {
    "raises_in_run": ("segmentation", "Broken", _RAISES_IN_RUN),
    "wrong_shape": ("segmentation", "WrongShape", _WRONG_SHAPE),
    "fails_at_import": ("segmentation", "Nothing", _FAILS_AT_IMPORT),
    "fails_in_constructor": ("segmentation", "NoWeights", _FAILS_IN_CONSTRUCTOR),
    "every_kind": ("segmentation", "EveryKind", _EVERY_KIND),
    "waits": ("segmentation", "Waits", _WAITS),
}


def manifest(task: str, entry_class: str, **overrides: Any) -> dict[str, Any]:
    """A valid manifest for a test bundle of `task` whose entry point is app:`entry_class`."""
    data: dict[str, Any] = {"name": "Test model", "description": "A bundle for tests.", "architecture": "None",
                            "task": task, "modality": "CT", "labels": _LABELS, "entry_point": f"app:{entry_class}",
                            "requirements": []}
    data.update(overrides)
    return data


def write_bundle(folder: str | Path, name: str, **manifest_overrides: Any) -> Path:
    """Write the bundle `name` (a key of `BUNDLES`) into `folder`; manifest fields can be overridden (e.g. task)."""
    task, entry_class, source = BUNDLES[name]
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text(source)
    data = {**manifest(task, entry_class), **manifest_overrides}
    (root / "manifest.json").write_text(json.dumps(data, indent=2))
    return root
