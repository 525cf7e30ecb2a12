"""functions-framework target `sharing`: groups, shares, publication and access queries."""

import flask

from functions.common.platform.config import get_settings
from functions.sharing.views import api

get_settings()
api.mount()


def sharing(request: flask.Request) -> flask.Response:
    return api.handle(request)
