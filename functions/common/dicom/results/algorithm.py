"""Who made a result: the model version that ran, as DICOM identifies an algorithm (SEG) and a device (SR)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import highdicom as hd
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from .errors import ResultRefused

MANUFACTURER = "MedCloudCare"
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class AlgorithmInfo:
    """The model version that produced a result: its name, version number and the bundle's SHA-256 digest."""

    name: str
    version: int
    digest: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 64 or "\\" in self.name:
            raise ResultRefused(f"AlgorithmInfo.name {self.name!r} must be 1-64 characters without a backslash "
                                "(DICOM LO): shorten the model's name")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ResultRefused(f"AlgorithmInfo.version {self.version!r} must be the model version number (1, 2, ...)")
        if not isinstance(self.digest, str) or not _DIGEST.fullmatch(self.digest):
            raise ResultRefused(f"AlgorithmInfo.digest {self.digest!r} must be the bundle's SHA-256 as 64 lowercase "
                                "hex digits (model_versions.digest)")

    @property
    def device_uid(self) -> str:
        """A UID for the model as an SR observer device: the same bundle is always the same device."""
        return generate_uid(entropy_srcs=["medcloudcare-model", self.digest])

    def seg_identification(self) -> hd.AlgorithmIdentificationSequence:
        """Segment Algorithm Identification (SEG): name, version, family AI, the bundle digest as a parameter."""
        return hd.AlgorithmIdentificationSequence(
            name=self.name, family=codes.cid7162.ArtificialIntelligence, version=str(self.version),
            source=MANUFACTURER, parameters={"bundle sha256": self.digest})

    def sr_identification(self) -> hd.sr.AlgorithmIdentification:
        """Algorithm Identification (TID 4019) of each SR finding."""
        return hd.sr.AlgorithmIdentification(name=self.name, version=str(self.version),
                                             parameters=[f"bundle sha256 {self.digest}"],
                                             family=codes.DCM.ArtificialIntelligence, manufacturer=MANUFACTURER)

    def observer(self) -> hd.sr.ObserverContext:
        """The SR's observer: a device, the model (TID 1004)."""
        return hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=self.device_uid, name=self.name, manufacturer_name=MANUFACTURER,
                model_name=f"{self.name} v{self.version}"[:64], serial_number=self.digest))

    def series_description(self, kind: str) -> str:
        """A SeriesDescription a reader recognises in the study's series list, e.g. 'Liver v3 SEG'."""
        suffix = f" v{self.version} {kind}"
        return self.name[: 64 - len(suffix)].rstrip() + suffix
