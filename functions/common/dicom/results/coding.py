"""A task's labels as coded concepts, and the check that outputs and labels belong together."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

from model_builder.errors import OutputError
from model_builder.labels import Label
from model_builder.outputs import Output
from model_builder.volume import Volume

from .errors import ResultRefused

# A coded label names an anatomical structure or finding; the SDK's Label has no category, so SEG gets the generic one.
CODED_CATEGORY = codes.SCT.AnatomicalStructure  # SCT 91723000
UNCODED_CATEGORY = UNCODED_TYPE = codes.SCT.Tissue  # SCT 85756007: labels without a code; SegmentLabel keeps the name
UNCODED_FINDING = codes.SCT.ClinicalFinding  # SCT 404684003: SR finding type of labels without a code


def check_labels(labels: Sequence[Label]) -> None:
    """Refuse a label list a result cannot be described with: empty, not Labels, or a name twice."""
    if not isinstance(labels, Sequence) or not labels:
        raise ResultRefused("labels must be the task's labels (InferTask.labels), at least one")
    for i, label in enumerate(labels):
        if not isinstance(label, Label):
            raise ResultRefused(f"labels[{i}] is a {type(label).__name__}, not a model_builder.Label")
    names = [label.name for label in labels]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ResultRefused(f"label names must be unique; {twice} appear more than once in the task's labels")


def check_output(output: Output, labels: Sequence[Label], volume: Volume) -> None:
    """The SDK's own check of an output against the input and labels, as a refusal of the result."""
    if not isinstance(output, Output):
        raise ResultRefused(f"{type(output).__name__} is not a model output (LabelVolume, Scores, Boxes, Points)")
    try:
        output.validate(volume, labels)
    except OutputError as e:
        raise ResultRefused(f"the model's output does not fit the series or the task's labels: {e}") from e


def concept(label: Label) -> CodedConcept | None:
    """The label's code as a coded concept, or None."""
    code = label.code
    return None if code is None else CodedConcept(code.value, code.scheme, code.meaning)


def finding_type(label: Label) -> CodedConcept:
    """The SR finding type of a label: its code, else the generic 'Clinical finding'."""
    return concept(label) or CodedConcept(UNCODED_FINDING.value, UNCODED_FINDING.scheme_designator,
                                          UNCODED_FINDING.meaning)


def label_dtype(count: int) -> type[np.unsignedinteger]:
    """The smallest unsigned type holding label indices 0..count."""
    return np.uint8 if count < 256 else np.uint16
