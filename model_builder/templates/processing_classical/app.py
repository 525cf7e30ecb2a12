"""Template: a classical CT model (numpy + scipy, no weights) that masks the patient's body.

Threshold at -300 HU (air is about -1000, soft tissue 0-100), keep the largest connected component
(drops the table and noise) and fill holes slice by slice (lungs and bowel gas are inside the body).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from model_builder import Application, Code, InferTask, InferType, Label, LabelVolume, Volume

BODY = Label("Body", Code("38266002", "SCT", "Entire body"), (177, 122, 101))


class BodyMask(InferTask):
    """CT body mask: label 1 inside the patient, 0 in the air around."""

    type = InferType.PROCESSING
    labels = (BODY,)
    modality = "CT"
    threshold_hu = -300.0

    def pre(self, volume: Volume) -> np.ndarray:
        return volume.array > self.threshold_hu

    def infer(self, data: np.ndarray) -> np.ndarray:
        components, count = ndimage.label(data)
        if count == 0:
            return np.zeros(data.shape, dtype=bool)
        sizes = np.bincount(components.ravel())
        sizes[0] = 0
        body = components == sizes.argmax()
        for z in range(body.shape[0]):
            body[z] = ndimage.binary_fill_holes(body[z])
        return body

    def post(self, result: np.ndarray, volume: Volume) -> LabelVolume:
        return LabelVolume(result.astype(np.uint8))


class BodyMaskApplication(Application):
    """The entry point: one task, no weights to load."""

    def __init__(self, bundle_dir: str = ".") -> None:
        super().__init__(bundle_dir)
        self.task = BodyMask()

    def run(self, volume: Volume) -> LabelVolume:
        return self.task(volume)
