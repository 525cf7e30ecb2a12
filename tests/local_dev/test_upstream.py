"""The origin's pass-through to a function in its own process (auth): a real upstream server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from mcc_local.procs import free_port
from mcc_local.serving import ThreadedWsgiServer
from mcc_local.upstream import Upstream
from werkzeug.test import Client


def echo(environ, start_response):
    """Answers with what reached it; /big streams 1 MiB."""
    if environ["PATH_INFO"] == "/big":
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(1 << 20))])
        return [b"x" * (1 << 16)] * 16
    length = int(environ.get("CONTENT_LENGTH") or 0)
    seen = {
        "method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"], "raw": environ.get("REQUEST_URI"),
        "query": environ.get("QUERY_STRING"), "body": environ["wsgi.input"].read(length).decode(),
        "headers": {k[5:]: v for k, v in environ.items() if k.startswith("HTTP_")},
        "content_type": environ.get("CONTENT_TYPE"),
    }
    body = json.dumps(seen).encode()
    start_response("201 Created", [("Content-Type", "application/json"), ("Set-Cookie", "a=1; Secure"),
                                   ("Set-Cookie", "b=2; Secure"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


@pytest.fixture
def upstream_port():
    return free_port()


@pytest.fixture
def chain(upstream_port):
    """echo on `upstream_port`, and the pass-through in front of it."""
    with ThreadedWsgiServer(echo, upstream_port, name="echo", poll_interval=0.05) as backend, \
            ThreadedWsgiServer(Upstream(f"http://127.0.0.1:{upstream_port}"), name="front", poll_interval=0.05) as front:
        yield backend, f"http://127.0.0.1:{front.port}"


def test_method_path_query_body_and_headers_pass_through(chain, http):
    _, front = chain
    r = http.post(f"{front}/api/auth/a%20b/login?next=%2Fx&y=1", data=b'{"k": 1}',
                  headers={"Content-Type": "application/json", "Cookie": "s=1", "Origin": "https://o.example",
                           "X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 201
    seen = r.json()
    assert seen["method"] == "POST" and seen["path"] == "/api/auth/a b/login"
    assert seen["query"] == "next=%2Fx&y=1" and seen["body"] == '{"k": 1}'
    assert seen["content_type"] == "application/json"
    assert seen["headers"]["COOKIE"] == "s=1" and seen["headers"]["ORIGIN"] == "https://o.example"
    # The client's own claim stays first; the address the origin saw is appended (the function trusts one more hop).
    assert seen["headers"]["X_FORWARDED_FOR"] == "203.0.113.9, 127.0.0.1"
    assert seen["headers"]["X_FORWARDED_PROTO"] == "http"
    # Both cookies arrive, each on its own header.
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1; Secure", "b=2; Secure"]


def test_large_answers_stream_through(chain, http):
    _, front = chain
    assert len(http.get(f"{front}/big").content) == 1 << 20


class _ClosesIdleConnections(BaseHTTPRequestHandler):
    """Answers HTTP/1.1 without `Connection: close`, then closes the connection, as a server does when a kept-alive
    connection's idle timeout ends (gunicorn's keepalive)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


def test_a_kept_alive_connection_the_upstream_closed_is_replaced():
    backend = ThreadingHTTPServer(("127.0.0.1", 0), _ClosesIdleConnections)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    try:
        # Called in this thread, as one of gunicorn's long-lived worker threads calls it: the connection is kept.
        client = Client(Upstream(f"http://127.0.0.1:{backend.server_port}"))
        for _ in range(4):  # every request after the first meets a connection closed while idle
            r = client.get("/x")
            assert (r.status_code, r.get_data()) == (200, b"ok")
    finally:
        backend.shutdown()
        backend.server_close()


def test_an_upstream_that_does_not_answer_is_a_503_problem(http, upstream_port):
    with ThreadedWsgiServer(Upstream(f"http://127.0.0.1:{upstream_port}"), name="front") as front:
        r = http.post(f"http://127.0.0.1:{front.port}/api/auth/login", json={})
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.headers["Content-Type"] == "application/problem+json"
    assert r.json()["status"] == 503 and "127.0.0.1" not in r.text


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1", "http://10.0.0.1:80", "http://127.0.0.1"])
def test_only_a_loopback_http_upstream_is_accepted(url):
    with pytest.raises(ValueError, match="loopback"):
        Upstream(url)


def test_a_cluster_local_service_is_accepted_on_port_80():
    upstream = Upstream("http://studies.mcc.svc.cluster.local")
    assert (upstream.host, upstream.port) == ("studies.mcc.svc.cluster.local", 80)


@pytest.mark.parametrize("url", ["http://auth.mcc.svc.cluster.local.example.org", "http://auth.example.org",
                                 "http://auth.mcc.svc.cluster.local/api", "http://svc.cluster.local.example.org"])
def test_nothing_outside_the_cluster_is_an_upstream(url):
    with pytest.raises(ValueError, match="cluster-local"):
        Upstream(url)


def test_the_cloud_portal_passes_every_function_to_its_service(monkeypatch, upstream_port):
    """The portal's Knative Service (MCC_FUNCTION_URL_TEMPLATE): static files here, each function's paths to its own
    service, and the origin's own probes."""
    from mcc_local import origin

    monkeypatch.setenv("MCC_FUNCTION_URL_TEMPLATE", "http://{name}.mcc.svc.cluster.local")
    hosts = {prefix: getattr(app, "app", app).host for prefix, app in origin.create_app().functions}  # some gzipped
    assert hosts["/api/auth"] == "auth.mcc.svc.cluster.local" and hosts["/dicom-web"] == "dicomweb.mcc.svc.cluster.local"
    assert set(hosts.values()) == {f"{name}.mcc.svc.cluster.local" for name in origin.FUNCTIONS}

    monkeypatch.setenv("MCC_FUNCTION_URL_TEMPLATE", f"http://127.0.0.1:{upstream_port}")
    with ThreadedWsgiServer(echo, upstream_port, name="echo", poll_interval=0.05):
        client = Client(origin.create_app())
        passed = client.get("/api/studies/x?limit=3")
        assert passed.status_code == 201 and passed.json["path"] == "/api/studies/x" and passed.json["query"] == "limit=3"
        probe = client.get("/healthz")
        assert probe.status_code == 200 and probe.json == {"status": "ok"}
        assert client.get("/").status_code == 200  # the portal's own page, served here


def test_an_https_upstream_is_verified_against_its_ca(tmp_path, http):
    """Knative's cluster-local-domain-tls: the portal speaks HTTPS to the function services, trusting only the
    cluster's CA (MCC_UPSTREAM_CA_FILE); an upstream whose certificate that CA did not sign is a 503, not a pass."""
    from mcc_local.tls import ensure_self_signed_cert

    cert, key = ensure_self_signed_cert(tmp_path / "upstream", [])
    other_ca, _ = ensure_self_signed_cert(tmp_path / "other", [])
    with pytest.raises(ValueError, match="CA file"):
        Upstream("https://auth.mcc.svc.cluster.local")
    with ThreadedWsgiServer(echo, name="tls-echo", poll_interval=0.05, ssl_context=(str(cert), str(key))) as backend:
        url = f"https://127.0.0.1:{backend.port}"
        with ThreadedWsgiServer(Upstream(url, ca_file=str(cert)), name="front", poll_interval=0.05) as front:
            r = http.get(f"http://127.0.0.1:{front.port}/api/studies?x=1")
            assert r.status_code == 201 and r.json()["path"] == "/api/studies" and r.json()["query"] == "x=1"
        with ThreadedWsgiServer(Upstream(url, ca_file=str(other_ca)), name="front", poll_interval=0.05) as front:
            r = http.get(f"http://127.0.0.1:{front.port}/api/studies")
            assert r.status_code == 503 and r.json()["detail"] == "This service is not answering; try again shortly."
