"""Template: a series-level classifier (MONAI DenseNet121 on a resized volume), weights in models/model.pt.

Return one probability per label; the platform stores them as a structured report.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.networks.nets import DenseNet121
from monai.transforms import Compose, EnsureChannelFirst, Resize, ScaleIntensityRange

from model_builder import Application, Code, InferTask, InferType, Label, Scores, Volume

NORMAL = Label("Normal", Code("17621005", "SCT", "Normal"))
ABNORMAL = Label("Abnormal", Code("263654008", "SCT", "Abnormal"))


class NormalOrAbnormal(InferTask):
    """Scores the whole series as normal or abnormal."""

    type = InferType.CLASSIFICATION
    labels = (NORMAL, ABNORMAL)
    modality = "CT"
    inputs = ("PatientAge",)

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network
        self.transforms = Compose([
            EnsureChannelFirst(channel_dim="no_channel"),
            ScaleIntensityRange(a_min=-1000, a_max=1000, b_min=0.0, b_max=1.0, clip=True),
            Resize(spatial_size=(64, 96, 96)),
        ])

    def pre(self, volume: Volume) -> torch.Tensor:
        return self.transforms(volume.array.astype(np.float32))[None]

    def infer(self, data: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.softmax(self.network(data)[0], 0)

    def post(self, result: torch.Tensor, volume: Volume) -> Scores:
        return Scores({label.name: float(p) for label, p in zip(self.labels, result.tolist(), strict=True)})


def network() -> torch.nn.Module:
    """The network, untrained: your training script saves its `state_dict()` as models/model.pt."""
    return DenseNet121(spatial_dims=3, in_channels=1, out_channels=len(NormalOrAbnormal.labels))


class ClassificationApplication(Application):
    """Loads the network once; classifies each series."""

    def __init__(self, bundle_dir: str = ".") -> None:
        super().__init__(bundle_dir)
        torch.set_num_threads(1)
        model = network()
        model.load_state_dict(torch.load(self.bundle_dir / "models" / "model.pt", map_location="cpu",
                                           weights_only=True))
        self.task = NormalOrAbnormal(model.eval())

    def run(self, volume: Volume) -> Scores:
        return self.task(volume)
