"""A model's outputs as DICOM of the series it was run on: a SEG for a label volume, Comprehensive 3D SRs (TID 1500)
for boxes and points (drawn on their images) and for scores, and a JSON summary for the viewer's AI panel. Each
refuses, with `ResultRefused`, an output whose shape or geometry disagrees with the source series before building
anything."""

from .algorithm import AlgorithmInfo
from .errors import ResultRefused
from .geometry import to_patient
from .seg import segmentation
from .sr import report, score_report
from .summary import summary

__all__ = ["AlgorithmInfo", "ResultRefused", "report", "score_report", "segmentation", "summary", "to_patient"]
