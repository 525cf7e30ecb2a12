"""functions-framework target `auth`: `functions-framework --source=functions/auth/main.py --target=auth`."""

import flask

from functions.auth.views import api
from functions.common.config import get_settings

get_settings()  # fail at start, with a readable message, if the environment is wrong


def auth(request: flask.Request) -> flask.Response:
    return api.handle(request)
