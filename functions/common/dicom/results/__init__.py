"""A model's outputs as DICOM of the series it ran on: a SEG for a label volume, a Comprehensive 3D SR (TID 1500)
for scores, boxes and points, and a JSON summary for the viewer's AI panel. Each refuses, with `ResultRefused`,
an output whose shape or geometry disagrees with the source series before building anything."""

from .algorithm import AlgorithmInfo
from .errors import ResultRefused
from .geometry import to_patient
from .seg import segmentation
from .sr import report
from .summary import summary

__all__ = ["AlgorithmInfo", "ResultRefused", "report", "segmentation", "summary", "to_patient"]
