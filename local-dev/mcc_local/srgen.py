"""DICOM SR measurement reports like the ones OHIF saves: a TID 1500 Measurement Report with one
length (a two-point polyline on an image), made with highdicom, for tests and demos."""

from __future__ import annotations

import numpy as np
from highdicom.sr import (
    Comprehensive3DSR,
    GraphicTypeValues,
    ImageRegion,
    Measurement,
    MeasurementReport,
    ObservationContext,
    ObserverContext,
    PersonObserverIdentifyingAttributes,
    PlanarROIMeasurementsAndQualitativeEvaluations,
    SourceImageForRegion,
    TrackingIdentifier,
)
from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid


def length_measurement_sr(image: Dataset, *, length_mm: float, observer: str = "Observer^Test",
                          points: tuple[tuple[float, float], tuple[float, float]] = ((10.0, 10.0), (20.0, 20.0)),
                          series_number: int = 900) -> Dataset:
    """A Comprehensive 3D SR in the image's study: one length measurement drawn on `image`."""
    region = ImageRegion(graphic_type=GraphicTypeValues.POLYLINE, graphic_data=np.array(points, dtype=float),
                         source_image=SourceImageForRegion.from_source_image(image))
    group = PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=generate_uid(), identifier="Length 1"),
        referenced_region=region,
        measurements=[Measurement(name=codes.SCT.Length, value=length_mm, unit=codes.UCUM.Millimeter)],
    )
    context = ObservationContext(observer_person_context=ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=PersonObserverIdentifyingAttributes(name=observer)))
    report = MeasurementReport(observation_context=context, procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
                               imaging_measurements=[group])
    return Comprehensive3DSR(evidence=[image], content=report, series_number=series_number,
                             series_instance_uid=generate_uid(), sop_instance_uid=generate_uid(), instance_number=1,
                             manufacturer="MedCloudCare test suite", series_description="Measurements")
