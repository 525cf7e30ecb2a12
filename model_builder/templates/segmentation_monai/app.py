"""Template: a MONAI 3-D U-Net segmentation of CT, weights in models/model.pt.

Change the labels, the network and the intensity window to your model's; keep the output on the input grid.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.inferers import SlidingWindowInferer
from monai.networks.nets import UNet
from monai.transforms import Compose, EnsureChannelFirst, ScaleIntensityRange

from model_builder import Application, Code, InferTask, InferType, Label, LabelVolume, Volume

LIVER = Label("Liver", Code("10200004", "SCT", "Liver"), (221, 130, 101))


class LiverSegmentation(InferTask):
    """Label 1 on the liver, 0 elsewhere."""

    type = InferType.SEGMENTATION
    labels = (LIVER,)
    modality = "CT"

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network
        self.transforms = Compose([
            EnsureChannelFirst(channel_dim="no_channel"),
            ScaleIntensityRange(a_min=-160, a_max=240, b_min=0.0, b_max=1.0, clip=True),
        ])
        self.inferer = SlidingWindowInferer(roi_size=(64, 64, 64), sw_batch_size=1, overlap=0.25)

    def pre(self, volume: Volume) -> torch.Tensor:
        return self.transforms(volume.array.astype(np.float32))[None]  # (batch, channel, z, y, x)

    def infer(self, data: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.inferer(data, self.network)

    def post(self, result: torch.Tensor, volume: Volume) -> LabelVolume:
        return LabelVolume(result[0].argmax(0).numpy().astype(np.uint8))


def network() -> torch.nn.Module:
    """The network, untrained: your training script saves its `state_dict()` as models/model.pt."""
    return UNet(spatial_dims=3, in_channels=1, out_channels=len(LiverSegmentation.labels) + 1,
                channels=(16, 32, 64, 128), strides=(2, 2, 2), num_res_units=2)


class SegmentationApplication(Application):
    """Loads the network once; segments each series."""

    def __init__(self, bundle_dir: str = ".") -> None:
        super().__init__(bundle_dir)
        torch.set_num_threads(1)
        model = network()
        model.load_state_dict(torch.load(self.bundle_dir / "models" / "model.pt", map_location="cpu",
                                           weights_only=True))
        self.task = LiverSegmentation(model.eval())

    def run(self, volume: Volume) -> LabelVolume:
        return self.task(volume)
