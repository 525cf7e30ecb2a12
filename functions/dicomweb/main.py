"""functions-framework target `dicomweb`: the authorising DICOMweb gateway in front of Orthanc."""

import logging

import flask

from functions.common.platform.config import get_settings
from functions.dicomweb.views import api

get_settings()
# pydicom logs offending element values (which can be patient data); patient data never goes to logs.
logging.getLogger("pydicom").setLevel(logging.CRITICAL)


def dicomweb(request: flask.Request) -> flask.Response:
    return api.handle(request)
