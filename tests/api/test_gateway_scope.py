"""Every series and instance in a gateway path is resolved through the platform's index to the authorised
study before Orthanc is asked: one of another study, addressed under one's own, answers exactly like one
that does not exist, and the archive is not called for it."""

from __future__ import annotations

import uuid

import pytest

from tests.support.dicomweb import DICOM_PARTS, FRAME_PARTS, stored_slice
from tests.support.problem import assert_problem

UNKNOWN = "2.25.1234567890123456789012345678901234567"
ROUTES = {  # name: (path under /dicom-web/studies/{study}, Accept)
    "series metadata": ("/series/{series}/metadata", "application/dicom+json"),
    "instance metadata": ("/series/{series}/instances/{sop}/metadata", "application/dicom+json"),
    "series retrieve": ("/series/{series}", DICOM_PARTS),
    "instance retrieve": ("/series/{series}/instances/{sop}", DICOM_PARTS),
    "frames": ("/series/{series}/instances/{sop}/frames/1", FRAME_PARTS),
    "rendered frame": ("/series/{series}/instances/{sop}/frames/1/rendered", "image/jpeg"),
    "series rendered": ("/series/{series}/rendered", "image/jpeg"),
    "instance rendered": ("/series/{series}/instances/{sop}/rendered", "image/jpeg"),
    "series thumbnail": ("/series/{series}/thumbnail", "image/jpeg"),
    "instance thumbnail": ("/series/{series}/instances/{sop}/thumbnail", "image/jpeg"),
    "instances of a series (QIDO)": ("/series/{series}/instances", "application/dicom+json"),
}


@pytest.fixture(scope="module")
def studies(factory):
    """A study of mine and one of another user, each of one stored instance."""
    me, other = factory.create("health_professional"), factory.create("health_professional")
    tag = uuid.uuid4().hex[:8].upper()
    return me, stored_slice(me.client, "SCOPE^MINE"), stored_slice(other.client, f"THEIRS{tag}^SECRET"), tag


def _get(client, study: str, route: str, series: str, sop: str):
    path, accept = ROUTES[route]
    return client.get(f"/dicom-web/studies/{study}" + path.format(series=series, sop=sop),
                      headers={"Accept": accept})


def test_a_series_or_instance_of_another_study_under_ones_own_answers_like_an_unknown_one(studies, archive):
    me, mine, theirs, tag = studies
    study, my_series = str(mine.StudyInstanceUID), str(mine.SeriesInstanceUID)
    their_series, their_sop = str(theirs.SeriesInstanceUID), str(theirs.SOPInstanceUID)
    archive.stop()  # every answer below must come from the index alone: the archive is not asked
    try:
        for route, (path, _) in ROUTES.items():
            expected = assert_problem(_get(me.client, study, route, UNKNOWN, UNKNOWN), 404, "not_found")
            addresses = [(their_series, their_sop)]  # each under my own study
            if "{sop}" in path:
                addresses += [(my_series, their_sop), (my_series, UNKNOWN)]
            for series, sop in addresses:
                r = _get(me.client, study, route, series, sop)
                assert (r.status_code, r.json()) == (404, expected), (route, series, sop, r.text[:300])
                assert tag not in r.text and "THEIRS" not in r.text
    finally:
        archive.start()


def test_another_users_study_answers_like_an_unknown_one_on_every_route(studies):
    me, mine, theirs, _ = studies
    for route in ROUTES:
        r = _get(me.client, str(theirs.StudyInstanceUID), route, str(theirs.SeriesInstanceUID),
                 str(theirs.SOPInstanceUID))
        body = assert_problem(r, 404, "not_found")
        assert body == assert_problem(_get(me.client, UNKNOWN, route, UNKNOWN, UNKNOWN), 404, "not_found")
        assert body["detail"] == "No such study."


def test_ones_own_series_and_instance_still_come_through(studies):
    me, mine, _, _ = studies
    for route in ROUTES:
        r = _get(me.client, str(mine.StudyInstanceUID), route, str(mine.SeriesInstanceUID), str(mine.SOPInstanceUID))
        assert r.status_code == 200, (route, r.text[:300])
