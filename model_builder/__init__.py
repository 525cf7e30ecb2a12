"""The MedCloudCare model SDK: declare an `InferTask`, write an `Application`, ship a bundle with a manifest.

Importing it needs numpy only: never the platform, MONAI or torch.
"""

from .application import Application
from .errors import InputError, ManifestError, ModelBuilderError, OutputError, TaskError
from .labels import Code, InferType, Label
from .manifest import Manifest, manifest_schema, parse_manifest
from .outputs import Box, Boxes, ImageOutput, LabelVolume, Output, Point, Points, Scores
from .task import OUTPUT_KINDS, InferTask
from .volume import Volume

__version__ = "0.1.0"

__all__ = [
    "OUTPUT_KINDS", "Application", "Box", "Boxes", "Code", "ImageOutput", "InferTask", "InferType", "InputError",
    "Label", "LabelVolume", "Manifest", "ManifestError", "ModelBuilderError", "Output", "OutputError", "Point",
    "Points", "Scores", "TaskError", "Volume", "manifest_schema", "parse_manifest",
]
