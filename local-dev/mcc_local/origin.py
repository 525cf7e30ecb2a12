"""The one HTTPS origin of the local platform: every function under its path, plus the portal.

Each function is loaded exactly as Knative runs it (functions-framework `create_app` on its
source and target), so local mode exercises the same code path as the cloud.
"""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import functions_framework

ROOT = Path(__file__).resolve().parents[2]

# function name → public path prefix; the source is functions/<name>/main.py, the target <name>.
FUNCTIONS: dict[str, str] = {"auth": "/api/auth"}

SECURITY_HEADERS = [
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
]
PORTAL_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def _function_app(name: str) -> WSGIApp:
    return functions_framework.create_app(target=name, source=str(ROOT / "functions" / name / "main.py"))


class Origin:
    """Routes by path prefix to the functions, everything else to the portal's static build."""

    def __init__(self, web_dist: Path) -> None:
        self.web_dist = web_dist.resolve()
        self.functions = [(prefix, _function_app(name)) for name, prefix in FUNCTIONS.items()]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")

        def start_with_headers(status: str, headers: list, exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k.lower() not in present]
            return start_response(status, headers + extra, exc_info)

        for prefix, app in self.functions:
            if path == prefix or path.startswith(prefix + "/"):
                return app(environ, start_with_headers)
        if path.startswith("/api/"):
            return _problem(start_with_headers, 404, "No such API.")
        return self._static(path, environ, start_with_headers)

    def _static(self, path: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _problem(start_response, 405, "Only GET is served here.")
        candidate = (self.web_dist / path.lstrip("/")).resolve()
        if self.web_dist not in candidate.parents or not candidate.is_file():
            candidate = self.web_dist / "index.html"  # single-page app: the portal routes the rest
        if not candidate.is_file():
            return _problem(start_response, 503, "The portal is not built; run scripts/install.")
        content_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        cache = "public, max-age=31536000, immutable" if "/assets/" in str(candidate) else "no-cache"
        data = candidate.read_bytes()
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(data))),
                                  ("Cache-Control", cache), ("Content-Security-Policy", PORTAL_CSP)])
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else data]


def _problem(start_response: Callable, status: int, detail: str) -> Iterable[bytes]:
    reason = {404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
    body = json.dumps({"type": "about:blank", "title": reason, "status": status, "detail": detail}).encode()
    start_response(f"{status} {reason}", [("Content-Type", "application/problem+json"),
                                           ("Content-Length", str(len(body)))])
    return [body]


def create_app() -> Origin:
    """gunicorn entry point: `gunicorn 'mcc_local.origin:create_app()'`."""
    return Origin(Path(os.environ.get("MCC_WEB_DIST", ROOT / "web" / "dist")))


class RedirectToHttps:
    """The plain-HTTP listener: every request is sent to the same path on the HTTPS origin."""

    def __init__(self, https_origin: str) -> None:
        self.https_origin = https_origin.rstrip("/")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING")
        target = self.https_origin + environ.get("PATH_INFO", "/") + (f"?{query}" if query else "")
        start_response("308 Permanent Redirect", [("Location", target), ("Content-Length", "0")])
        return [b""]
