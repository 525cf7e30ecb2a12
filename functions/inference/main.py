"""functions-framework target `inference`: model runs as durable jobs, and their results."""

import flask

from functions.common.platform.config import get_settings
from functions.inference.views import api

get_settings()
api.mount()


def inference(request: flask.Request) -> flask.Response:
    return api.handle(request)
