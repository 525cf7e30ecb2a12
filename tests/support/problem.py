"""Assertions on RFC 7807 problem+json answers."""

from __future__ import annotations

import requests


def assert_problem(response: requests.Response, status: int, code: str) -> dict:
    """The response is a problem+json of this status and code with a detail to act on; returns the body."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status, body
    assert body["code"] == code, body
    assert body["type"].endswith("/" + code), body
    assert body["title"] and body["detail"], body
    return body
