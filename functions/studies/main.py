"""functions-framework target `studies`: the study list and study management."""

import flask

from functions.common.platform.config import get_settings
from functions.studies.views import api

get_settings()
api.mount()


def studies(request: flask.Request) -> flask.Response:
    return api.handle(request)
