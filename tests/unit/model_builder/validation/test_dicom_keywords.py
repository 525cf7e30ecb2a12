"""Which DICOM keywords a task may ask for (the same the platform's reader sends), and placeholder values of each
keyword's kind for the smoke run."""

from __future__ import annotations

import pytest
from pydicom.datadict import dictionary_VR, keyword_dict

from model_builder.validation.dicom_keywords import keyword_problem, placeholder, suggestion


def test_static_checks_accept_exactly_the_keywords_the_platforms_reader_sends():
    """A version that passed its checks never asks the reader for an attribute it refuses, and vice versa
    (delimiters such as Item, which the reader could never find in a dataset, are refused only here)."""
    from functions.common.dicom.volumes.attributes import check_keywords
    from functions.common.dicom.volumes.errors import UnknownAttributes

    disagree = []
    for keyword in filter(None, keyword_dict):
        try:
            check_keywords([keyword])
            platform_sends = True
        except UnknownAttributes:
            platform_sends = False
        delimiter = dictionary_VR(keyword_dict[keyword]) == "NONE"
        if (keyword_problem(keyword) is None) != (platform_sends and not delimiter):
            disagree.append(keyword)
    assert disagree == []
    assert keyword_problem("PatientWeight") is None and keyword_problem("PixelData") is not None


@pytest.mark.parametrize(("typed", "meant"), [("PatientAg", "PatientAge"), ("patientweight", "PatientWeight"),
                                              ("SliceThikness", "SliceThickness"), ("Tumour", None)])
def test_a_misspelt_keyword_suggests_the_one_meant(typed, meant):
    assert suggestion(typed) == meant


@pytest.mark.parametrize(("keyword", "value"), [
    ("PatientWeight", 1.0), ("Rows", 1), ("StudyDate", "20240101"), ("AcquisitionTime", "120000"),
    ("PatientAge", "054Y"), ("SeriesInstanceUID", "2.25.1"), ("ReferringPhysicianName", "SYNTHETIC^PATIENT"),
    ("SeriesDescription", "SYNTHETIC"), ("PixelSpacing", [1.0, 1.0]), ("ImageOrientationPatient", [1.0] * 6),
])
def test_a_placeholder_has_the_kind_and_count_of_values_the_reader_would_give(keyword, value):
    assert placeholder(keyword) == value and type(placeholder(keyword)) is type(value)


def test_a_placeholder_for_an_unknown_keyword_is_refused():
    from model_builder import InputError

    with pytest.raises(InputError, match="'Tumour' is not a DICOM attribute keyword"):
        placeholder("Tumour")
