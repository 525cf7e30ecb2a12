"""functions-framework target `dicomweb`: the authorising DICOMweb gateway in front of Orthanc."""

import flask

from functions.common.platform.config import get_settings
from functions.dicomweb.views import api

get_settings()
api.mount()


def dicomweb(request: flask.Request) -> flask.Response:
    return api.handle(request)
