"""The origin's compressed answers: the portal's and the viewer's precompressed static files chosen by
Accept-Encoding, and JSON answers gzipped on the fly, while pixel data and DICOM pass as stored."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import brotli
import pytest
import requests
from mcc_local.dicomgen import Patient, ct_series
from mcc_local.origin import FUNCTIONS, PORTAL_CSP, Origin
from mcc_local.precompress import precompress_dir
from mcc_local.serving import ThreadedWsgiServer
from mcc_local.tls import ensure_self_signed_cert

from tests.support import real_world
from tests.support.dicomweb import DICOM_PARTS, FRAME_PARTS, instance_path, parts_of, stow

BUNDLE = "app.bundle.0123456789abcdef.js"  # named by content hash, as OHIF's build names them
SCRIPT = b"".join(b"export function f%d(study) { return study.series.map((s) => s.instances.length); }\n" % i
                  for i in range(600))
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass
class Site:
    url: str
    ca: str
    web: Path
    viewer: Path

    def get(self, path: str, accept_encoding: str | None, method: str = "GET", **headers: str) -> requests.Response:
        """The answer with its body exactly as sent (`raw`), not decoded; no Accept-Encoding when None."""
        r = requests.request(method, self.url + path, headers={"Accept-Encoding": accept_encoding, **headers},
                             verify=self.ca, stream=True, timeout=30)
        r.raw_body = r.raw.read(decode_content=False)
        return r


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The origin's static side over a small portal and viewer, precompressed as scripts/install does; its functions
    are elsewhere (never called here)."""
    root = tmp_path_factory.mktemp("static")
    web, viewer = root / "dist", root / "ohif-dist"
    (web / "assets").mkdir(parents=True)
    viewer.mkdir()
    (web / "index.html").write_bytes(b"<!doctype html><html><body>" + b"<div>portal</div>" * 100 + b"</body></html>")
    (web / "assets" / "index-3f2a.js").write_bytes(SCRIPT)
    (web / "assets" / "logo.png").write_bytes(SCRIPT)  # images are never precompressed
    (viewer / "index.html").write_bytes(b"<html><script>window.PUBLIC_URL=\"/viewer/\";</script>" + b" " * 900
                                        + b"</html>")
    (viewer / BUNDLE).write_bytes(SCRIPT)
    (viewer / "app-config.js").write_bytes(b"window.config = { routerBasename: '/viewer' };\n" * 40)
    (viewer / "noise.js").write_bytes(os.urandom(8192))  # does not compress: no copy
    precompress_dir(web, workers=1)
    precompress_dir(viewer, workers=1)
    cert, key = ensure_self_signed_cert(root / "tls", ["localhost"])
    nowhere = {name: "http://127.0.0.1:9" for name in FUNCTIONS}
    with ThreadedWsgiServer(Origin(web, viewer, upstreams=nowhere), name="static-origin",
                            ssl_context=(str(cert), str(key))) as server:
        yield Site(f"https://localhost:{server.port}", str(cert), web, viewer)


def _decoded(r: requests.Response) -> bytes:
    coding = r.headers.get("Content-Encoding")
    return {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[coding](r.raw_body)


@pytest.mark.parametrize(("accept_encoding", "coding"), [
    ("gzip, deflate, br, zstd", "br"), ("br", "br"), ("*", "br"), ("gzip", "gzip"), ("x-gzip", "gzip"),
    ("br;q=0, gzip", "gzip"), ("br;q=0.5, gzip;q=0.8", "gzip"), ("gzip;q=0.5, br;q=0.5", "br"),
])
def test_the_preferred_accepted_coding_is_sent_and_decodes_to_the_file(site: Site, accept_encoding: str,
                                                                       coding: str) -> None:
    r = site.get(f"/viewer/{BUNDLE}", accept_encoding)
    assert r.status_code == 200 and r.headers["Content-Encoding"] == coding
    assert int(r.headers["Content-Length"]) == len(r.raw_body) < len(SCRIPT) / 3
    assert _decoded(r) == SCRIPT
    assert r.headers["Content-Type"] == "text/javascript" and r.headers["Vary"] == "Accept-Encoding"
    assert r.headers["Cache-Control"] == IMMUTABLE


@pytest.mark.parametrize("accept_encoding", [None, "identity", "br;q=0, gzip;q=0", "deflate", "*;q=0",
                                             "gzip;q=0.5, identity", "gzip;q=nonsense"])
def test_without_an_accepted_coding_the_file_is_sent_as_it_is(site: Site, accept_encoding: str | None) -> None:
    r = site.get(f"/viewer/{BUNDLE}", accept_encoding)
    assert r.status_code == 200 and "Content-Encoding" not in r.headers and r.raw_body == SCRIPT
    assert r.headers["Content-Length"] == str(len(SCRIPT)) and r.headers["Vary"] == "Accept-Encoding"
    assert r.headers["Cache-Control"] == IMMUTABLE


def test_each_coding_has_its_own_etag_and_revalidates_alone(site: Site) -> None:
    etags = {coding: site.get(f"/viewer/{BUNDLE}", coding).headers["ETag"] for coding in ("br", "gzip", "identity")}
    assert len(set(etags.values())) == 3
    for coding, etag in etags.items():
        current = site.get(f"/viewer/{BUNDLE}", coding, **{"If-None-Match": etag})
        assert current.status_code == 304 and current.raw_body == b"" and current.headers["ETag"] == etag
        assert current.headers["Vary"] == "Accept-Encoding"
    other = site.get(f"/viewer/{BUNDLE}", "gzip", **{"If-None-Match": etags["br"]})  # a brotli copy is no gzip one
    assert other.status_code == 200 and gzip.decompress(other.raw_body) == SCRIPT


def test_head_answers_what_get_would_without_a_body(site: Site) -> None:
    get, head = site.get(f"/viewer/{BUNDLE}", "br"), site.get(f"/viewer/{BUNDLE}", "br", method="HEAD")
    assert head.status_code == 200 and head.raw_body == b""
    for name in ("Content-Encoding", "Content-Length", "Content-Type", "ETag", "Vary", "Cache-Control"):
        assert head.headers[name] == get.headers[name], name


def test_a_range_request_gets_the_whole_file_uncompressed(site: Site) -> None:
    r = site.get(f"/viewer/{BUNDLE}", "br, gzip", Range="bytes=0-99")
    assert r.status_code == 200 and "Content-Encoding" not in r.headers and r.raw_body == SCRIPT


def test_a_file_without_a_compressed_copy_is_sent_as_it_is_with_no_vary(site: Site) -> None:
    for path, stored in (("/viewer/noise.js", site.viewer / "noise.js"), ("/assets/logo.png", site.web / "assets"
                                                                         / "logo.png")):
        r = site.get(path, "br, gzip")
        assert r.status_code == 200 and "Content-Encoding" not in r.headers and "Vary" not in r.headers
        assert r.raw_body == stored.read_bytes()


def test_a_copy_older_than_its_file_is_not_sent(site: Site) -> None:
    """app-config.js edited by hand after install: its copies are outdated, the file itself is sent."""
    config = site.viewer / "app-config.js"
    edited = b"window.config = { routerBasename: '/viewer', edited: true };\n" * 40
    config.write_bytes(edited)
    later = os.stat(f"{config}.br").st_mtime_ns + 1_000_000_000
    os.utime(config, ns=(later, later))
    r = site.get("/viewer/app-config.js", "br, gzip")
    assert "Content-Encoding" not in r.headers and r.raw_body == edited and "Vary" not in r.headers
    assert r.headers["Cache-Control"] == "no-cache"


def test_copies_are_not_files_of_the_apps(site: Site) -> None:
    assert site.get(f"/viewer/{BUNDLE}.br", "identity").status_code == 404
    portal = site.get("/assets/index-3f2a.js.gz", "identity")  # the portal's routes fall back to its page
    assert portal.status_code == 200 and portal.raw_body == (site.web / "index.html").read_bytes()


def test_the_portal_is_sent_compressed_with_its_policy_and_caching(site: Site) -> None:
    page = site.get("/studies/1.2.3", "gzip, br")  # a portal route: its index.html
    assert page.headers["Content-Encoding"] == "br" and _decoded(page) == (site.web / "index.html").read_bytes()
    assert page.headers["Content-Security-Policy"] == PORTAL_CSP and page.headers["Cache-Control"] == "no-cache"
    assert page.headers["Content-Type"].startswith("text/html")
    asset = site.get("/assets/index-3f2a.js", "gzip")
    assert asset.headers["Content-Encoding"] == "gzip" and _decoded(asset) == SCRIPT
    assert asset.headers["Cache-Control"] == IMMUTABLE and asset.headers["Vary"] == "Accept-Encoding"
    head = site.get("/", "gzip", method="HEAD")
    assert head.raw_body == b"" and head.headers["Content-Length"] == \
        str((site.web / "index.html.gz").stat().st_size)


# JSON answers of the functions, through the session's origin.

@pytest.fixture(scope="module")
def study(doctor):
    """A CT series of eight slices stored by the doctor."""
    series = ct_series(Patient(name="GZIP^TEST", patient_id=f"P-{uuid.uuid4().hex[:12]}"), slices=8, rows=16,
                       columns=16)
    r = stow(doctor.client, series)
    assert r.status_code == 200, r.text
    return series


def _raw(client, path: str, accept_encoding: str, **headers: str) -> requests.Response:
    r = client.get(path, headers={"Accept-Encoding": accept_encoding, **headers}, stream=True)
    r.raw_body = r.raw.read(decode_content=False)
    return r


@pytest.mark.parametrize("what", ["metadata", "series", "instances"])
def test_dicom_json_is_gzipped_for_clients_that_accept_it_and_decodes_to_the_same_json(doctor, study,
                                                                                      what: str) -> None:
    path = f"/dicom-web/studies/{study[0].StudyInstanceUID}/{what}"
    plain, gzipped = _raw(doctor.client, path, "identity"), _raw(doctor.client, path, "gzip, deflate, br")
    assert plain.status_code == gzipped.status_code == 200
    assert "Content-Encoding" not in plain.headers and len(plain.raw_body) > 1024
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert int(gzipped.headers["Content-Length"]) == len(gzipped.raw_body) < len(plain.raw_body) / 2
    assert json.loads(gzip.decompress(gzipped.raw_body)) == json.loads(plain.raw_body)
    assert len(json.loads(plain.raw_body)) == (1 if what == "series" else 8)
    for r in (plain, gzipped):
        assert r.headers["Content-Type"].startswith("application/dicom+json")
        assert "Accept-Encoding" in r.headers["Vary"]


def test_api_json_is_gzipped_but_the_sign_in_service_s_never_is(client) -> None:
    studies = _raw(client, "/api/studies/openapi.json", "gzip")
    assert studies.headers["Content-Encoding"] == "gzip" and json.loads(gzip.decompress(studies.raw_body))["paths"]
    assert studies.headers["Content-Type"] == "application/json"
    auth = _raw(client, "/api/auth/openapi.json", "gzip")  # its answers carry tokens: not compressed (BREACH)
    assert len(auth.raw_body) > 1024 and "Content-Encoding" not in auth.headers
    assert json.loads(auth.raw_body)["paths"]


def test_small_json_answers_are_sent_as_they_are(doctor) -> None:
    r = _raw(doctor.client, "/dicom-web/studies?PatientID=NOBODY-" + uuid.uuid4().hex, "gzip")
    assert r.status_code in (200, 204) and "Content-Encoding" not in r.headers and len(r.raw_body) <= 1024
    assert "Vary" not in r.headers or "Accept-Encoding" not in r.headers["Vary"]


def test_dicom_instances_are_sent_as_they_are(doctor, study) -> None:
    ds = study[0]
    instance = _raw(doctor.client, instance_path(ds), "gzip, br", Accept=DICOM_PARTS)
    assert instance.status_code == 200 and "Content-Encoding" not in instance.headers
    instance._content = instance.raw_body
    assert len(parts_of(instance)) == 1


def test_native_frames_are_gzipped_in_transit_and_inflate_to_the_stored_pixels(doctor, study) -> None:
    """Uncompressed frames are most of a viewer's bytes over a hospital link: gzip halves a CT frame (Orthanc does the
    same). The pixels are the stored ones once the transfer coding is undone; without gzip accepted, as they are."""
    ds = study[0]
    gzipped = _raw(doctor.client, instance_path(ds) + "/frames/1", "gzip, deflate, br", Accept=FRAME_PARTS)
    plain = _raw(doctor.client, instance_path(ds) + "/frames/1", "identity", Accept=FRAME_PARTS)
    assert gzipped.status_code == plain.status_code == 200
    assert gzipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in gzipped.headers["Vary"]
    assert "Content-Encoding" not in plain.headers
    assert gzipped.headers["Content-Type"].split("boundary=")[0] == plain.headers["Content-Type"].split("boundary=")[0]
    gzipped._content, plain._content = gzip.decompress(gzipped.raw_body), plain.raw_body
    assert parts_of(gzipped) == parts_of(plain) == [ds.PixelData]
    assert len(gzipped.raw_body) < len(plain.raw_body)


def test_compressed_frames_are_sent_as_stored(doctor) -> None:
    ds = real_world.with_fresh_uids(real_world.sample("SC_rgb_jpeg_dcmtk.dcm"))
    assert stow(doctor.client, [ds]).status_code == 200
    r = _raw(doctor.client, instance_path(ds) + "/frames/1", "gzip, br", Accept=FRAME_PARTS + "; transfer-syntax=*")
    assert r.status_code == 200 and "Content-Encoding" not in r.headers and "image/jpeg" in r.headers["Content-Type"]
