"""The one HTTPS origin of the local platform: every function under its path, the OHIF viewer, the portal.

Each function is loaded exactly as Knative runs it (functions-framework `create_app` on its
source and target), so local mode exercises the same code path as the cloud.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import mimetypes
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import functions_framework
from werkzeug.serving import WSGIRequestHandler

from mcc_local.precompress import ENCODINGS, current_copy, is_copy
from mcc_local.upstream import Upstream

ROOT = Path(__file__).resolve().parents[2]

# function name → its public path prefixes; the source is functions/<name>/main.py, the target <name>.
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "auth": ("/api/auth",), "dicomweb": ("/dicom-web",), "studies": ("/api/studies",),
    "sharing": ("/api/sharing", "/api/groups", "/api/shares", "/api/access"), "models": ("/api/models",),
    "inference": ("/api/inference",),
}

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

# The prebuilt OHIF viewer (scripts/install puts it in web/ohif-dist, rebased to this prefix).
VIEWER_PREFIX = "/viewer"
# OHIF starts some WebAssembly workers from blob: URLs (they inherit this policy), shows blob:/data:
# images, plays bulk-data videos and embeds encapsulated PDFs from blob: URLs, and injects <style>s.
# Its index.html has two small inline scripts: they are allowed by their hashes ({inline_scripts}).
# It needs no cross-origin isolation (COOP/COEP): SharedArrayBuffer is optional in the 3.13 build.
# Reading a DICOM SEG needs 'unsafe-eval': @cornerstonejs/adapters unpacks every SEG frame through
# `ndarray`, which compiles its accessors with `new Function` (docs/viewer-ai.md). The portal's page that
# holds the viewer and the AI panel frames it from this origin only ('self'; X-Frame-Options SAMEORIGIN).
VIEWER_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval' {inline_scripts}; "
    "worker-src 'self' blob:; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "media-src 'self' blob:; object-src 'self' blob:; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)
# A worker started from a script URL runs under the policy sent with that script. The image codecs'
# Emscripten glue (embind) builds functions with `new Function`, so scripts, which may become
# workers, allow 'unsafe-eval' (workers have no DOM); the page needs it too, for SEG (above).
VIEWER_SCRIPT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'; worker-src 'self' blob:"
# OHIF's build names its bundles, codecs and fonts by content hash: those never change.
_HASHED_FILE = re.compile(r"(?:^|\.)[0-9a-f]{16}\.(?:js|wasm|woff2)$")
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)
_CHUNK = 1 << 16
# JSON answers (QIDO results, metadata) are gzipped on the fly above this size; below it a packet holds them anyway.
# Level 6 is zlib's default balance: about 12 ms per MB of DICOM JSON here, for 9-50x smaller.
JSON_GZIP_MIN_BYTES = 1024
JSON_GZIP_LEVEL = 6
_JSON_MEDIA_TYPE = re.compile(r"\s*application/(?:[\w.-]+\+)?json\s*(?:;|$)", re.I)
_NOT_COMPRESSED_STATUSES = ("204", "206", "304")
# The sign-in service's answers carry tokens beside text the client chose: never compressed (BREACH), and small.
_UNCOMPRESSED_FUNCTIONS = frozenset({"auth"})

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def _function_app(name: str) -> WSGIApp:
    return functions_framework.create_app(target=name, source=str(ROOT / "functions" / name / "main.py"))


def serve_function(name: str) -> WSGIApp:
    """gunicorn entry point of a function served by its own process: `gunicorn 'mcc_local.origin:serve_function("auth")'`."""
    if name not in FUNCTIONS:
        raise ValueError(f"name: {name!r} is not one of {sorted(FUNCTIONS)}")
    return _function_app(name)


class Origin:
    """Routes by path prefix to the functions and the viewer, everything else to the portal's static build.

    `upstreams` names functions served by their own process (name → http://127.0.0.1:port): their requests pass
    through; the others run in this process."""

    def __init__(self, web_dist: Path, viewer_dist: Path = ROOT / "web" / "ohif-dist", *,
                 upstreams: dict[str, str] | None = None, upstream_ca: str | None = None) -> None:
        self.web_dist = web_dist.resolve()
        self.viewer_dist = viewer_dist.resolve()
        self.viewer_csp = VIEWER_CSP.format(inline_scripts=_inline_script_hashes(self.viewer_dist / "index.html"))
        upstreams = upstreams or {}
        apps = {name: Upstream(upstreams[name], ca_file=upstream_ca) if name in upstreams else _function_app(name)
                for name in FUNCTIONS}
        apps = {name: app if name in _UNCOMPRESSED_FUNCTIONS else GzipJson(app) for name, app in apps.items()}
        self.functions = [(prefix, apps[name]) for name, prefixes in FUNCTIONS.items() for prefix in prefixes]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")

        def start_with_headers(status: str, headers: list, exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k.lower() not in present]
            return start_response(status, headers + extra, exc_info)

        for prefix, app in self.functions:
            if path == prefix or path.startswith(prefix + "/"):
                return app(environ, start_with_headers)
        if path in ("/healthz", "/readyz"):  # the origin's own probes (the functions answer theirs themselves)
            return _answer_json(start_with_headers, 200, {"status": "ok"})
        if path.startswith("/api/"):
            return _problem(start_with_headers, 404, "No such API.")
        if path == VIEWER_PREFIX or path.startswith(VIEWER_PREFIX + "/"):
            return self._viewer(path.removeprefix(VIEWER_PREFIX), environ, start_with_headers)
        return self._static(path, environ, start_with_headers)

    def _viewer(self, path: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """OHIF's files; paths without a file extension are its routes and get its index.html."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _problem(start_response, 405, "Only GET is served here.")
        if "." not in path.rsplit("/", 1)[-1]:
            path = "/index.html"
        candidate = (self.viewer_dist / path.lstrip("/")).resolve()
        if self.viewer_dist not in candidate.parents or not candidate.is_file() or is_copy(candidate):
            if not (self.viewer_dist / "index.html").is_file():
                return _problem(start_response, 503, "The viewer is not installed; run scripts/install.")
            return _problem(start_response, 404, "No such file in the viewer.")
        hashed = _HASHED_FILE.search(candidate.name) is not None
        csp = VIEWER_SCRIPT_CSP if candidate.suffix in (".js", ".mjs") else self.viewer_csp
        return _send_file(candidate, environ, start_response, [
            ("Cache-Control", "public, max-age=31536000, immutable" if hashed else "no-cache"),
            ("Content-Security-Policy", csp), ("X-Frame-Options", "SAMEORIGIN"),
        ])

    def _static(self, path: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _problem(start_response, 405, "Only GET is served here.")
        candidate = (self.web_dist / path.lstrip("/")).resolve()
        if self.web_dist not in candidate.parents or not candidate.is_file() or is_copy(candidate):
            candidate = self.web_dist / "index.html"  # single-page app: the portal routes the rest
        if not candidate.is_file():
            return _problem(start_response, 503, "The portal is not built; run scripts/install.")
        cache = "public, max-age=31536000, immutable" if "/assets/" in str(candidate) else "no-cache"
        return _send_file(candidate, environ, start_response, [
            ("Cache-Control", cache), ("Content-Security-Policy", PORTAL_CSP),
        ])


def _inline_script_hashes(index_html: Path) -> str:
    """CSP sources allowing exactly the inline scripts of `index_html` (none if it does not exist)."""
    try:
        html = index_html.read_bytes()
    except FileNotFoundError:
        return ""
    digests = (base64.b64encode(hashlib.sha256(body).digest()).decode() for body in _INLINE_SCRIPT.findall(html))
    return " ".join(f"'sha256-{digest}'" for digest in digests)


def preferred_encoding(accept_encoding: str | None, offered: Sequence[str]) -> str | None:
    """The content coding of `offered` (in the server's order of preference) to answer a request's Accept-Encoding
    with, or None to send the body as it is: the highest weight wins, q=0 refuses, and an explicit `identity`
    weight above a coding's keeps the body as it is."""
    if not accept_encoding:
        return None
    weights = _coding_weights(accept_encoding)
    best, best_weight = None, weights.get("identity", 0.0)
    for coding in offered:
        weight = weights.get(coding, weights.get("*", 0.0))
        if weight > best_weight or (best is None and weight > 0 and weight == best_weight):
            best, best_weight = coding, weight
    return best


def _coding_weights(accept_encoding: str) -> dict[str, float]:
    """Each coding of an Accept-Encoding header with its weight (RFC 9110 §12.5.3); a malformed weight refuses."""
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    weight = 0.0
        if coding:
            weights["gzip" if coding.lower() == "x-gzip" else coding.lower()] = weight
    return weights


def _send_file(path: Path, environ: dict, start_response: Callable, headers: list) -> Iterable[bytes]:
    """Stream a file (the viewer's bundles are tens of MB), or its precompressed copy in the coding the client
    prefers (never for a Range request: those get the whole file as it is), answering 304 when the client's copy
    is current."""
    stat = path.stat()
    copies = {e.name: (e, copy) for e in ENCODINGS if (copy := current_copy(path, stat, e)) is not None}
    chosen = None if "HTTP_RANGE" in environ else preferred_encoding(environ.get("HTTP_ACCEPT_ENCODING"), [*copies])
    # Each representation has its own validator: a cache must not answer a gzip request with brotli bytes.
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}{"-" + chosen if chosen else ""}"'
    headers = [("ETag", etag), *headers, *([("Vary", "Accept-Encoding")] if copies else [])]
    if etag in environ.get("HTTP_IF_NONE_MATCH", ""):
        start_response("304 Not Modified", headers)
        return [b""]
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if chosen:
        encoding, copy = copies[chosen]
        path, size, headers = Path(f"{path}{encoding.suffix}"), copy.st_size, [("Content-Encoding", chosen), *headers]
    else:
        size = stat.st_size
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(size)), *headers])
    if environ["REQUEST_METHOD"] == "HEAD":
        return [b""]
    file = path.open("rb")
    wrapper = environ.get("wsgi.file_wrapper")
    return wrapper(file, _CHUNK) if wrapper else _read_chunks(file)


def _read_chunks(file: BinaryIO) -> Iterator[bytes]:
    with file:
        while chunk := file.read(_CHUNK):
            yield chunk


class GzipJson:
    """Gzips a function's JSON answers (QIDO results, metadata, API JSON) for clients that accept gzip: only answers
    built whole (a Content-Length) above JSON_GZIP_MIN_BYTES; streamed bodies (pixel data, multipart DICOM, frames),
    answers already encoded and answers setting cookies pass as they are, never buffered."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        accepts_gzip = environ.get("REQUEST_METHOD") != "HEAD" and \
            preferred_encoding(environ.get("HTTP_ACCEPT_ENCODING"), ("gzip",)) == "gzip"
        held: list[tuple[str, list]] = []
        written: list[bytes] = []
        returned = False

        def start(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], Any]:
            held.clear()
            if not _json_worth_gzipping(status, headers):
                return start_response(status, headers, exc_info)
            headers = _vary_on_accept_encoding(headers)
            if not accepts_gzip or returned or exc_info is not None:
                return start_response(status, headers, exc_info)
            held.append((status, headers))
            return written.append  # the legacy write() of an app that uses it goes into the body to gzip

        body = self.app(environ, start)
        returned = True
        if not held:
            return body
        try:
            data = b"".join([*written, *body])
        finally:
            if hasattr(body, "close"):
                body.close()
        status, headers = held[0]
        compressed = gzip.compress(data, compresslevel=JSON_GZIP_LEVEL, mtime=0)
        headers = [(k, f'{v[:-1]}-gzip"' if k.lower() == "etag" and v.endswith('"') else v)
                   for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Encoding", "gzip"), ("Content-Length", str(len(compressed)))])
        return [compressed]


def _json_worth_gzipping(status: str, headers: list) -> bool:
    """A JSON answer of known length above the threshold, not encoded, not partial, setting no cookie."""
    values = {k.lower(): v for k, v in headers}
    length = values.get("content-length", "")
    return (not status.startswith(_NOT_COMPRESSED_STATUSES) and length.isdigit()
            and int(length) > JSON_GZIP_MIN_BYTES and _JSON_MEDIA_TYPE.match(values.get("content-type", "")) is not None
            and "content-encoding" not in values and "set-cookie" not in values)


def _vary_on_accept_encoding(headers: list) -> list:
    """`headers` with Accept-Encoding added to Vary (one Vary header, its other fields kept)."""
    fields = [f.strip() for k, v in headers if k.lower() == "vary" for f in v.split(",") if f.strip()]
    if not any(f.lower() == "accept-encoding" for f in fields):
        fields.append("Accept-Encoding")
    return [(k, v) for k, v in headers if k.lower() != "vary"] + [("Vary", ", ".join(fields))]


def _answer_json(start_response: Callable, status: int, value: Any) -> Iterable[bytes]:
    body = json.dumps(value).encode()
    start_response(f"{status} OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                    ("Cache-Control", "no-store")])
    return [body]


def _problem(start_response: Callable, status: int, detail: str) -> Iterable[bytes]:
    reason = {404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
    body = json.dumps({"type": "about:blank", "title": reason, "status": status, "detail": detail}).encode()
    start_response(f"{status} {reason}", [("Content-Type", "application/problem+json"),
                                           ("Content-Length", str(len(body)))])
    return [body]


def create_app() -> Origin:
    """gunicorn entry point: `gunicorn 'mcc_local.origin:create_app()'`. MCC_AUTH_UPSTREAM: auth runs apart (local);
    MCC_FUNCTION_URL_TEMPLATE (e.g. `http://{name}.mcc.svc.cluster.local`): every function is its own service and
    this origin only serves the static files and passes the rest through (the portal's Knative Service);
    MCC_UPSTREAM_CA_FILE: the CA of https:// function services (Knative's cluster-local-domain-tls)."""
    template = os.environ.get("MCC_FUNCTION_URL_TEMPLATE")
    upstream = os.environ.get("MCC_AUTH_UPSTREAM")
    if template:
        upstreams = {name: template.format(name=name) for name in FUNCTIONS}
    else:
        upstreams = {"auth": upstream} if upstream else {}
    return Origin(Path(os.environ.get("MCC_WEB_DIST", ROOT / "web" / "dist")),
                  Path(os.environ.get("MCC_VIEWER_DIST", ROOT / "web" / "ohif-dist")), upstreams=upstreams,
                  upstream_ca=os.environ.get("MCC_UPSTREAM_CA_FILE"))


class RedirectToHttps:
    """The plain-HTTP listener: every request is sent to the same path on the HTTPS origin."""

    def __init__(self, https_origin: str) -> None:
        self.https_origin = https_origin.rstrip("/")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING")
        target = self.https_origin + environ.get("PATH_INFO", "/") + (f"?{query}" if query else "")
        start_response("308 Permanent Redirect", [("Location", target), ("Content-Length", "0")])
        return [b""]


class PathOnlyRequestLog(WSGIRequestHandler):
    """Access log without query strings (QIDO queries carry patient names), like gunicorn's `%(U)s`."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.log("info", '"%s %s" %s', self.command, self.path.split("?", 1)[0], code)
