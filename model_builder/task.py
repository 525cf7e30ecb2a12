"""`InferTask`: a model's declaration (type, labels, modality, inputs) and its pre → infer → post pipeline."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from .errors import InputError, OutputError, TaskError
from .labels import InferType, Label
from .outputs import Boxes, ImageOutput, LabelVolume, Output, Points, Scores
from .volume import Volume

log = logging.getLogger(__name__)

_KEYWORD = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
_MODALITY = re.compile(r"^[A-Z0-9]{1,16}$")

# The output kinds each task type may return.
OUTPUT_KINDS: dict[InferType, tuple[type[Output], ...]] = {
    InferType.SEGMENTATION: (LabelVolume,),
    InferType.CLASSIFICATION: (Scores,),
    InferType.DETECTION: (Boxes,),
    InferType.LOCALISATION: (Points,),
    InferType.PROCESSING: (ImageOutput, LabelVolume),
}


class InferTask:
    """One inference: declare `type`, `labels`, `modality` and `inputs`, implement `infer` (and `pre`/`post`).

    Calling the task runs pre → infer → post, checks the output kind against `type`, validates it
    against the input and records each stage's seconds in `latencies`. MONAI transforms (a `Compose`)
    and inferers (`SlidingWindowInferer`) are plain callables: call them from `pre`, `infer` and `post`.
    """

    type: ClassVar[InferType]
    labels: Sequence[Label] = ()
    modality: str = ""
    inputs: Sequence[str] = ()

    def __init__(self, *, type: InferType | None = None, labels: Sequence[Label] | None = None,
                 modality: str | None = None, inputs: Sequence[str] | None = None) -> None:
        name = self.__class__.__name__
        self.type = InferType(type) if type is not None else getattr(self, "type", None)  # type: ignore[misc]
        if not isinstance(self.type, InferType):
            raise TaskError(name, "type", f"declare one of {[t.name for t in InferType]}, e.g."
                            " `type = InferType.SEGMENTATION`")
        self.labels = tuple(self.labels if labels is None else labels)
        if not all(isinstance(label, Label) for label in self.labels):
            raise TaskError(name, "labels", "each label must be a model_builder.Label")
        names = [label.name for label in self.labels]
        if len(set(names)) != len(names):
            raise TaskError(name, "labels", f"label names must be unique, got {names}")
        if self.type is not InferType.PROCESSING and not self.labels:
            raise TaskError(name, "labels", f"a {self.type.value} task needs at least one label")
        self.modality = self.modality if modality is None else modality
        if self.modality and not _MODALITY.match(self.modality):
            raise TaskError(name, "modality", f"{self.modality!r} is not a DICOM modality code such as 'CT' or 'MR'")
        self.inputs = tuple(self.inputs if inputs is None else inputs)
        bad = [k for k in self.inputs if not isinstance(k, str) or not _KEYWORD.match(k)]
        if bad:
            raise TaskError(name, "inputs", f"{bad} are not DICOM attribute keywords (e.g. 'PatientAge')")
        self.latencies: dict[str, float] = {}

    def pre(self, volume: Volume) -> Any:
        """Prepare the model's input; by default the volume's array."""
        return volume.array

    def infer(self, data: Any) -> Any:
        """Run the model on what `pre` returned."""
        raise NotImplementedError(f"{self.__class__.__name__} must implement infer(self, data)")

    def post(self, result: Any, volume: Volume) -> Output:
        """Turn the model's result into an output (`LabelVolume`, `Scores`, ...); by default the result itself."""
        return result

    def check_input(self, volume: Volume) -> None:
        """Refuse a volume of another modality or without the attributes the task declared."""
        if not isinstance(volume, Volume):
            raise InputError("volume", f"must be a model_builder.Volume, got {type(volume).__name__}")
        if self.modality and volume.modality and volume.modality != self.modality:
            raise InputError("Volume.modality", f"{self.__class__.__name__} runs on {self.modality},"
                             f" not {volume.modality}")
        missing = [k for k in self.inputs if k not in volume.attributes]
        if missing:
            raise InputError("Volume.attributes", f"{self.__class__.__name__} needs {missing}")

    def check_output(self, output: Any, volume: Volume) -> Output:
        """The output, if its kind matches the task's type and it fits the input."""
        kinds = OUTPUT_KINDS[self.type]
        if not isinstance(output, kinds):
            expected = " or ".join(k.__name__ for k in kinds)
            raise OutputError(self.__class__.__name__, f"a {self.type.value} task must return {expected},"
                              f" got {type(output).__name__}")
        output.validate(volume, self.labels)
        return output

    def __call__(self, volume: Volume) -> Output:
        """Run pre → infer → post on a volume and return the validated output."""
        self.check_input(volume)
        latencies: dict[str, float] = {}
        start = time.perf_counter()
        data = self.pre(volume)
        latencies["pre"] = time.perf_counter() - start
        start = time.perf_counter()
        result = self.infer(data)
        latencies["infer"] = time.perf_counter() - start
        start = time.perf_counter()
        output = self.post(result, volume)
        latencies["post"] = time.perf_counter() - start
        self.latencies = latencies
        log.debug("task %s latencies %s", self.__class__.__name__, latencies)
        return self.check_output(output, volume)
