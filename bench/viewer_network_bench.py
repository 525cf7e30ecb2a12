"""Viewer benchmark (issue 13): OHIF opened cold over an emulated hospital network, through the platform and through
an OHIF + nginx + plain Orthanc baseline, on the same CT.

Starts a throwaway platform (as local-dev runs it) and stores a synthetic CT (default 200 slices of 512×512) through
the gateway's STOW-RS as an approved health professional; starts the baseline (bench/viewer_network_baseline.py:
nginx serving the same OHIF dist with gzip on the fly, /dicom-web proxied to a plain Orthanc holding the same
instances). Then opens the study in headless Chromium, each time in a fresh browser context (empty cache, no open
connection) under Chromium's network emulation (CDP `Network.emulateNetworkConditions`, default 50 Mbit/s down and
up, 20 ms latency), --runs times per way after one warm-up load each (servers' lazy imports, pools, page cache),
the ways taking turns:
- "platform": the portal's viewer page (/studies/<uid>/view: the portal, OHIF framed beside the AI panel), signed in
  (the session cookies of an API sign-in); what a user opens from the study list;
- "ohif": OHIF alone on the platform origin (/viewer?StudyInstanceUIDs=<uid>, the portal's viewer link);
- "baseline": OHIF on the nginx origin, the same link.
Per load it measures, from the top page's navigation start:
- first image: the active viewport holds an image (OHIF's viewport service) and its canvas has a non-black pixel,
  checked every 40 ms in the viewer's frame;
- all frames: the moment OHIF's image loader had loaded (fetched, decoded, cached) the series' last image: distinct
  image ids of cornerstone's IMAGE_LOADED events (`window.cornerstone`, which OHIF exposes), thumbnail included;
- bytes on the wire (CDP encodedDataLength: headers and bodies as received), to the first image and in all.
It prints the medians and ratios platform / baseline against the targets (first image and all frames no later
than the baseline's), what one frame costs each server without the emulated link (as OHIF asks for it), then a
waterfall of the last load of each way: milestones, and per kind of asset the requests, connections, bytes, content
codings and times to first byte (under emulation: they include the 20 ms and any queueing behind the link).

Usage: .venv/bin/python bench/viewer_network_bench.py [--runs 3] [--slices 200] [--rows 512] [--mbit 50]
       [--latency-ms 20] [--ways platform,ohif,baseline]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local-dev"), str(ROOT / "bench")]

from harness import PASSWORD, Gateway, http_session, pct, throwaway_platform, timed  # noqa: E402
from mcc_local import users  # noqa: E402
from mcc_local.dicomgen import Patient, ct_series, to_bytes  # noqa: E402
from models_bench import report  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, CDPSession, Frame, Page, sync_playwright  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402
from series_read_bench import _create_user, _store  # noqa: E402
from studies_transfer import frame_paths  # noqa: E402
from viewer_network_baseline import baseline, nginx_available, store  # noqa: E402
from viewer_network_report import WAYS, Load, Request, med, summary, waterfall  # noqa: E402

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.e2e.ohif import IMAGE_SHOWN, VIEWPORT_CANVAS, quiet_onboarding  # noqa: E402
from tests.e2e.portal import new_context  # noqa: E402
from tests.e2e.viewer_page import viewer_frame  # noqa: E402

EMAIL = "bench-viewer@example.org"
FIRST_IMAGE_TIMEOUT_S, ALL_FRAMES_TIMEOUT_S = 180, 420
OHIF_FRAME_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"  # as its app-config asks

# Runs in every frame of the page; acts in OHIF's. Stamps (epoch ms, the clock of performance.timeOrigin) when the
# active viewport first holds an image and when one of its canvases first shows a non-black pixel (pixels are read
# only once the image is there), and when OHIF's image loader (cornerstone, which OHIF puts on window) loaded each
# image id; counts the loads it reports failed.
_FIRST_IMAGE_PROBE = f"""
(() => {{
  if (!location.pathname.startsWith('/viewer')) return;
  const now = () => performance.timeOrigin + performance.now();
  const shown = {IMAGE_SHOWN};
  const painted = () => {{
    for (const c of document.querySelectorAll('{VIEWPORT_CANVAS}')) {{
      const ctx = c.width && c.height ? c.getContext('2d') : null;
      if (!ctx) continue;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4 * 7) if (d[i] | d[i + 1] | d[i + 2]) return true;
    }}
    return false;
  }};
  const timer = setInterval(() => {{
    if (!window.__mccImageData && shown()) window.__mccImageData = now();
    if (window.__mccImageData && painted()) {{ window.__mccFirstImage = now(); clearInterval(timer); }}
  }}, 40);
  window.__mccLoaded = {{}};
  window.__mccFailed = 0;
  const hook = setInterval(() => {{
    const cs = window.cornerstone;
    if (!cs || !cs.eventTarget || !cs.EVENTS) return;
    clearInterval(hook);
    cs.eventTarget.addEventListener(cs.EVENTS.IMAGE_LOADED, e => {{
      const id = e.detail && e.detail.image && e.detail.image.imageId;
      if (id && !(id in window.__mccLoaded)) window.__mccLoaded[id] = now();
    }});
    for (const failed of [cs.EVENTS.IMAGE_LOAD_FAILED, cs.EVENTS.IMAGE_LOAD_ERROR]) {{
      cs.eventTarget.addEventListener(failed, () => {{ window.__mccFailed += 1; }});
    }}
  }}, 20);
}})();
"""


class NetworkLog:
    """The page's requests from CDP's Network events (the portal page's same-origin viewer frame included)."""

    def __init__(self, cdp: CDPSession) -> None:
        self.requests: dict[str, Request] = {}
        self.offset_s: float | None = None  # wall clock minus CDP's monotonic clock
        self.nav_start_ms = 0.0
        for event, handler in (("Network.requestWillBeSent", self._sent), ("Network.responseReceived", self._response),
                               ("Network.loadingFinished", self._finished), ("Network.loadingFailed", self._failed),
                               ("Network.dataReceived", self._data)):
            cdp.on(event, handler)

    def _at(self, monotonic: float) -> float:
        return (monotonic + (self.offset_s or 0.0)) - self.nav_start_ms / 1000

    def _sent(self, event: dict) -> None:
        if self.offset_s is None:
            self.offset_s = event["wallTime"] - event["timestamp"]
        self.requests[event["requestId"]] = Request(event["request"]["url"], event["timestamp"])

    def _response(self, event: dict) -> None:
        request = self.requests.get(event["requestId"])
        if request is None:
            return
        response = event["response"]
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        request.status = response.get("status", 0)
        request.connection = int(response.get("connectionId") or 0)
        request.encoding = headers.get("content-encoding", "")
        timing = response.get("timing")
        request.headers_at = timing["requestTime"] + timing["receiveHeadersEnd"] / 1000 if timing else event["timestamp"]

    def _finished(self, event: dict) -> None:
        request = self.requests.get(event["requestId"])
        if request is not None:
            request.finished = event["timestamp"]
            request.wire_bytes = int(event.get("encodedDataLength", 0))

    def _data(self, event: dict) -> None:
        """Bytes as they arrive: OHIF's loader stops reading an answer once it holds Content-Length bytes, and the
        browser then ends it as cancelled, with no total (see docs/benchmarks.md, issue 13)."""
        request = self.requests.get(event["requestId"])
        if request is not None and request.finished is None:
            request.wire_bytes += int(event.get("encodedDataLength", 0))

    def _failed(self, event: dict) -> None:
        request = self.requests.get(event["requestId"])
        if request is not None:
            request.failure = event.get("errorText", "failed") + (" (cancelled)" if event.get("canceled") else "")
            request.finished = event["timestamp"]  # ended; its bytes are those received (dataReceived)

    def settled(self, nav_start_ms: float) -> list[Request]:
        """The requests with times in s from the navigation start (epoch ms, the top page's timeOrigin)."""
        self.nav_start_ms = nav_start_ms
        out = []
        for r in self.requests.values():
            out.append(Request(r.url, self._at(r.started), self._at(r.headers_at) if r.headers_at else None,
                               self._at(r.finished) if r.finished else None, r.status, r.encoding, r.wire_bytes,
                               r.failure, r.connection))
        return sorted(out, key=lambda r: r.started)


# ------------------------------------------------------------------------------------------------------ loading


@dataclass(frozen=True)
class Target:
    """Where a way opens the study: its origin, the path, and whether the viewer is framed in the portal's page."""

    origin: str
    path: str
    framed: bool
    sign_in: bool


def open_cold(browser: Browser, way: str, target: Target, slices: int, network: dict) -> Load:
    """One load in a fresh browser context (empty cache, no connection open) under the emulated network."""
    context = new_context(browser, target.origin, viewport={"width": 1280, "height": 900})
    try:
        if target.sign_in:
            _sign_in(context, target.origin)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"{m.type}: {m.text[:300]}")
                if m.type in ("error", "warning") and "willReadFrequently" not in m.text else None)  # not our probe's
        quiet_onboarding(page)
        page.add_init_script(_FIRST_IMAGE_PROBE)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", network)
        log = NetworkLog(cdp)
        page.goto(target.path, wait_until="commit")
        frame = _viewer_frame(page, target.framed)
        frame.wait_for_function("() => !!window.__mccFirstImage", timeout=FIRST_IMAGE_TIMEOUT_S * 1000, polling=100)
        loaded, failed = _wait_for_frames(frame, slices)
        nav_start = page.evaluate("() => performance.timeOrigin")
        first_image, image_data = frame.evaluate("() => [window.__mccFirstImage, window.__mccImageData]")
        page.wait_for_timeout(100)  # lets Playwright deliver the last CDP events behind the page's own state
        all_frames = (loaded[slices - 1] - nav_start) / 1000 if len(loaded) >= slices else None
        return Load(way, (first_image - nav_start) / 1000, (image_data - nav_start) / 1000, all_frames, len(loaded),
                    failed, log.settled(nav_start), errors)
    finally:
        context.close()


def _sign_in(context: BrowserContext, origin: str) -> None:
    """The bench user's session cookies in the context (an API sign-in shares the context's cookie jar)."""
    r = context.request.post(origin + "/api/auth/login", data={"email": EMAIL, "password": PASSWORD},
                             headers={"Origin": origin})
    assert r.status == 200 and r.json().get("status") == "ok", f"sign-in answered {r.status}: {r.text()[:300]}"


def _viewer_frame(page: Page, framed: bool) -> Frame:
    if not framed:
        return page.main_frame
    page.get_by_title("Image viewer").wait_for(state="attached", timeout=FIRST_IMAGE_TIMEOUT_S * 1000)
    return viewer_frame(page)


def _wait_for_frames(frame: Frame, slices: int) -> tuple[list[float], int]:
    """Wait until OHIF's image loader has loaded (fetched, decoded, cached) `slices` distinct images; return when
    each was loaded (epoch ms, in order) and how many loads failed. Fewer only when it stopped short (timeout)."""
    try:
        frame.wait_for_function(f"() => Object.keys(window.__mccLoaded).length >= {slices}",
                                timeout=ALL_FRAMES_TIMEOUT_S * 1000, polling=250)
    except PlaywrightTimeout:
        print(f"    OHIF loaded {frame.evaluate('() => Object.keys(window.__mccLoaded).length')} of {slices} "
              f"images in {ALL_FRAMES_TIMEOUT_S} s", flush=True)
    loaded, failed = frame.evaluate("() => [Object.values(window.__mccLoaded), window.__mccFailed]")
    return sorted(loaded), failed


# --------------------------------------------------------------------------------------------------------- main


def frame_costs(gw: Gateway, base_origin: str, paths: list[str], count: int = 40) -> None:
    """What one frame costs each server without the emulated link: `count` frames asked for as OHIF asks (its
    Accept, the browser's Accept-Encoding), sequentially, gateway and baseline alternately, after a warm-up."""
    headers = {"Accept": OHIF_FRAME_ACCEPT, "Accept-Encoding": "gzip, deflate, br"}
    plain = http_session()

    def fetch(where: str, path: str) -> tuple[float, int]:
        session, url, extra = ((gw.session, gw.origin + path, gw.headers()) if where == "platform" else
                               (plain, base_origin.replace("localhost", "127.0.0.1") + path, {}))
        t0 = time.perf_counter()
        r = session.get(url, headers={**headers, **extra}, stream=True, timeout=60)
        size = sum(len(chunk) for chunk in r.raw.stream(1 << 16, decode_content=False))
        assert r.status_code == 200, f"{where} frame answered {r.status_code}"
        return (time.perf_counter() - t0) * 1000, size

    chosen = paths[:: max(1, len(paths) // count)][:count]
    for path in chosen[:5]:  # warm-up: connections, imports, Orthanc's cache
        for where in ("platform", "baseline"):
            fetch(where, path)
    got: dict[str, list[tuple[float, int]]] = {"platform": [], "baseline": []}
    for i, path in enumerate(chosen):
        for where in (("platform", "baseline") if i % 2 == 0 else ("baseline", "platform")):
            got[where].append(fetch(where, path))
    print(f"\nOne frame without the emulated link ({len(chosen)} frames each, sequential, as OHIF asks for them):")
    for where, label in (("platform", "gateway (identity, as stored)"), ("baseline", "nginx → Orthanc (its gzip)")):
        ms_ = [t for t, _ in got[where]]
        kb = statistics.median(size for _, size in got[where]) / 1e3
        print(f"  {label:<32} p50 {pct(ms_, 0.5):5.1f} ms  p95 {pct(ms_, 0.95):5.1f} ms  {kb:6.0f} kB on the wire")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold loads per way (default 3)")
    parser.add_argument("--slices", type=int, default=200, help="slices of the CT (default 200)")
    parser.add_argument("--rows", type=int, default=512, help="rows and columns of each slice (default 512)")
    parser.add_argument("--mbit", type=float, default=50.0, help="emulated bandwidth each way, Mbit/s (default 50)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="emulated latency per request (default 20)")
    parser.add_argument("--ways", default="platform,ohif,baseline",
                        help=f"comma-separated, of {', '.join(WAYS)} (default all; targets need platform and baseline)")
    parser.add_argument("--keep-state", action="store_true", help="keep the throwaway platform's state directory")
    args = parser.parse_args()
    ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    if args.runs < 1 or args.slices < 2 or not ways or any(w not in WAYS for w in ways):
        parser.error(f"need --runs >= 1, --slices >= 2 and --ways among {', '.join(WAYS)}")
    if not nginx_available():
        parser.error("nginx is not installed: apt-get install nginx-light (scripts/install)")
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    network = {"offline": False, "latency": args.latency_ms, "downloadThroughput": args.mbit * 1e6 / 8,
               "uploadThroughput": args.mbit * 1e6 / 8}

    series = ct_series(Patient(name="BENCH^VIEWER", patient_id="BENCH-VIEW-1"), slices=args.slices, rows=args.rows,
                       columns=args.rows)
    files = timed(f"CT {args.slices}×{args.rows}×{args.rows} generated", lambda: [to_bytes(d) for d in series])
    study_uid = str(series[0].StudyInstanceUID)
    size_mb = sum(map(len, files)) / 1e6

    with throwaway_platform(keep_state=args.keep_state) as platform:
        timed("platform up", platform.up)
        _create_user(EMAIL)
        gw = Gateway(f"https://127.0.0.1:{platform.ports.https}", platform.public_url, EMAIL)
        timed(f"stored through the gateway ({size_mb:.0f} MB)", lambda: _store(gw, files))
        viewer_dist = Path(os.environ.get("MCC_VIEWER_DIST", ROOT / "web" / "ohif-dist"))
        with baseline(platform.state / "baseline", viewer_dist, platform._tls(), users.APP) as base:
            timed("stored in the baseline's Orthanc", lambda: store(base.orthanc, files))
            targets = {"platform": Target(platform.public_url, f"/studies/{study_uid}/view", True, True),
                       "ohif": Target(platform.public_url, f"/viewer?StudyInstanceUIDs={study_uid}", False, True),
                       "baseline": Target(base.origin, f"/viewer?StudyInstanceUIDs={study_uid}", False, False)}
            print(f"\nCold loads under emulation: {args.mbit:g} Mbit/s, {args.latency_ms:g} ms latency; "
                  f"{args.runs} per way, taking turns", flush=True)
            loads = measure(ways, targets, args.runs, args.slices, network)
            frame_costs(gw, base.origin, frame_paths(files))
    rows = summary(loads, network["downloadThroughput"])
    for runs in loads.values():
        waterfall(runs[-1])
        for i, load in enumerate(runs[:-1]):  # an outlier's own waterfall: where a stall came from
            if load.first_image_s > 1.5 * med(runs, lambda r: r.first_image_s):
                waterfall(load, f"load {i + 1} (first image far above the median)")
    report(rows, started, load_before)
    return 0


def measure(ways: list[str], targets: dict[str, Target], runs: int, slices: int, network: dict) -> dict[str, list[Load]]:
    """`runs` cold loads per way, rotating which way goes first."""
    loads: dict[str, list[Load]] = {way: [] for way in ways}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for way in ways:  # warm-up, not counted: the servers' lazy imports and pools, the page cache
                open_cold(browser, way, targets[way], slices, network)
            for i in range(runs):
                for way in ways[i % len(ways):] + ways[:i % len(ways)]:
                    load = open_cold(browser, way, targets[way], slices, network)
                    loads[way].append(load)
                    print(f"  {WAYS[way]:<32} first image {load.first_image_s:5.2f} s, all {load.frames} images "
                          f"{load.all_frames_s or float('nan'):6.2f} s, {load.bytes_until() / 1e6:6.1f} MB", flush=True)
        finally:
            browser.close()
    return loads


if __name__ == "__main__":
    sys.exit(main())
