"""functions-framework target `auth`: `functions-framework --source=functions/auth/main.py --target=auth`."""

import flask

from functions.auth.views import api
from functions.common.platform.config import get_settings

get_settings()  # fail at start, with a readable message, if the environment is wrong
api.mount()  # every request through the pipeline, even one functions-framework cannot route


def auth(request: flask.Request) -> flask.Response:
    """The target functions-framework serves: every request goes through the auth function's routes."""
    return api.handle(request)
