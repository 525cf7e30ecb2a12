"""Sample: a classical bone segmentation of CT (numpy + scipy, no weights), written with the SDK.

Bone is the densest tissue on CT (cortex 700-1900 HU, cancellous bone 100-400 HU, soft tissue under 100):
keep what is at least `threshold_hu`, drop connected pieces under `min_volume_mm3` (noise, calcified
nodes, wire), then fill the holes of each axial slice, where marrow sits inside the cortex.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from model_builder import Application, Code, InferTask, InferType, Label, LabelVolume, Volume

BONE = Label("Bone", Code("272673000", "SCT", "Bone"), (241, 214, 145))
_CONNECTIVITY = ndimage.generate_binary_structure(3, 3)  # 26 neighbours: a thin rib stays one piece


class BoneSegmentation(InferTask):
    """Label 1 on bone, 0 elsewhere."""

    type = InferType.SEGMENTATION
    labels = (BONE,)
    modality = "CT"
    threshold_hu = 200.0
    min_volume_mm3 = 100.0

    def pre(self, volume: Volume) -> tuple[np.ndarray, float]:
        return volume.array >= self.threshold_hu, float(np.prod(volume.spacing))

    def infer(self, data: tuple[np.ndarray, float]) -> np.ndarray:
        dense, voxel_mm3 = data
        components, count = ndimage.label(dense, structure=_CONNECTIVITY)
        if count == 0:
            return dense
        sizes = np.bincount(components.ravel()) * voxel_mm3
        keep = sizes >= self.min_volume_mm3
        keep[0] = False
        bone = keep[components]
        for z in range(bone.shape[0]):
            bone[z] = ndimage.binary_fill_holes(bone[z])
        return bone

    def post(self, result: np.ndarray, volume: Volume) -> LabelVolume:
        return LabelVolume(result.astype(np.uint8))


class BoneApplication(Application):
    """The entry point: one task, no weights to load."""

    def __init__(self, bundle_dir: str = ".") -> None:
        super().__init__(bundle_dir)
        self.task = BoneSegmentation()

    def run(self, volume: Volume) -> LabelVolume:
        return self.task(volume)
