"""functions-framework target `models`: the model registry."""

import flask

from functions.common.platform.config import get_settings
from functions.models.views import api

get_settings()
api.mount()


def models(request: flask.Request) -> flask.Response:
    return api.handle(request)
