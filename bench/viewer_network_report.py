"""The viewer benchmark's report (bench/viewer_network_bench.py): what one cold load recorded (its requests as the
browser's network log saw them), the medians and ratios platform / baseline against the targets, and the waterfall of
one load: milestones, and per kind of asset the requests, connections, bytes, content codings and times to first byte.

Kept apart from the loading (Playwright, CDP): it only reads what the loads recorded.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from models_bench import Row

WAYS = {"platform": "platform (portal viewer page)", "ohif": "platform (OHIF alone)", "baseline": "baseline (nginx)"}
FRAME_PATH = "/frames/"


@dataclass
class Request:
    """One request of a load as the browser's network log saw it; times in s from the top page's navigation."""

    url: str
    started: float
    headers_at: float | None = None
    finished: float | None = None
    status: int = 0
    encoding: str = ""
    wire_bytes: int = 0
    failure: str = ""  # the browser's reason when the request failed (or was cancelled)
    connection: int = 0  # the browser's id of the connection that carried it

    @property
    def path(self) -> str:
        return self.url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]

    @property
    def kind(self) -> str:
        path = "/" + self.path
        if FRAME_PATH in path:
            return "frames (WADO-RS)"
        if path.startswith("/dicom-web"):
            return "QIDO-RS + metadata"
        if path.startswith("/api/"):
            return "portal API"
        if path.startswith("/viewer"):
            return "OHIF files"
        return "portal files"


@dataclass
class Load:
    """One cold load of the viewer: what was measured and every request behind it."""

    way: str
    first_image_s: float
    image_data_s: float
    all_frames_s: float | None  # the slices-th distinct image loaded by OHIF's image loader
    frames: int  # distinct images OHIF loaded
    failed: int  # image loads OHIF's loader reported failed
    requests: list[Request] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the console's errors and warnings, in order

    def bytes_until(self, seconds: float | None = None) -> int:
        return sum(r.wire_bytes for r in self.requests
                   if r.finished is not None and (seconds is None or r.finished <= seconds))


def _distinct_frames(requests: list[Request]) -> list[Request]:
    """The first answer (status 200, ended) of each frame URL, cancelled ones included (a thumbnail and the viewport
    may ask for the same one)."""
    seen: dict[str, Request] = {}
    for r in requests:
        if FRAME_PATH in r.url and r.finished is not None and r.status == 200:
            if r.url not in seen or r.finished < seen[r.url].finished:  # type: ignore[operator]
                seen[r.url] = r
    return list(seen.values())


def med(loads: list[Load], value: Callable[[Load], float | None]) -> float:
    values = [v for v in map(value, loads) if v is not None]
    return statistics.median(values) if values else float("nan")


def summary(loads: dict[str, list[Load]], bytes_per_s: float) -> list[Row]:
    """Per way the medians and the link's floor (every byte of the load at the emulated rate, nothing else); the
    ratios platform / baseline against the targets."""
    print(f"\n{'way':<32} {'first image':>12} {'image data':>11} {'all frames':>11} {'MB to image':>12} "
          f"{'MB in all':>10} {'link floor':>11}  runs (first image / all frames, s)")
    for way, runs in loads.items():
        each = ", ".join(f"{r.first_image_s:.1f}/{r.all_frames_s or float('nan'):.1f}" for r in runs)
        print(f"{WAYS[way]:<32} {med(runs, lambda r: r.first_image_s):>10.2f} s {med(runs, lambda r: r.image_data_s):>9.2f} s "
              f"{med(runs, lambda r: r.all_frames_s):>9.2f} s "
              f"{med(runs, lambda r: r.bytes_until(r.first_image_s)) / 1e6:>12.1f} "
              f"{med(runs, lambda r: r.bytes_until()) / 1e6:>10.1f} "
              f"{med(runs, lambda r: r.bytes_until()) / bytes_per_s:>9.1f} s  {each}")
    rows: list[Row] = []
    if "baseline" not in loads:
        return rows
    base = loads["baseline"]
    for way in ("platform", "ohif"):
        if way not in loads:
            continue
        target = "<= 1.0" if way == "platform" else "info"
        for label, value in (("first image", lambda r: r.first_image_s), ("all frames loaded", lambda r: r.all_frames_s)):
            mine, theirs = med(loads[way], value), med(base, value)
            ratio = mine / theirs
            rows.append((f"{label}, {WAYS[way]} / baseline", f"{ratio:.2f} ({mine:.1f} vs {theirs:.1f} s)", target,
                         ratio <= 1.0))
        mb, base_mb = med(loads[way], lambda r: r.bytes_until()), med(base, lambda r: r.bytes_until())
        rows.append((f"bytes on the wire, {WAYS[way]} / baseline", f"{mb / base_mb:.2f} ({mb / 1e6:.0f} vs "
                     f"{base_mb / 1e6:.0f} MB)", "info", True))
    return rows


def waterfall(load: Load, why: str = "the last load") -> None:
    """Where one load's time went: milestones, then per kind of asset its requests, bytes, codings and TTFB."""
    reqs = [r for r in load.requests if r.finished is not None]
    print(f"\nWaterfall of {why}, {WAYS[load.way]} (s from navigation start):")

    def first(pred: Callable[[Request], bool]) -> Request | None:
        return next((r for r in reqs if pred(r)), None)

    marks = [("OHIF index.html", first(lambda r: r.path.startswith("viewer") and "." not in r.path.rsplit("/", 1)[-1])),
             ("OHIF app-config.js", first(lambda r: r.path.endswith("viewer/app-config.js"))),
             ("OHIF app.bundle", first(lambda r: "/app.bundle." in r.url and r.url.endswith(".js"))),
             ("first QIDO/metadata", first(lambda r: r.kind == "QIDO-RS + metadata")),
             ("series metadata", first(lambda r: r.path.endswith("/metadata"))),
             ("first frame", first(lambda r: r.kind == "frames (WADO-RS)"))]
    for name, r in marks:
        if r is not None:
            print(f"  {name:<22} requested {r.started:6.2f}  headers {r.headers_at or 0:6.2f}  done "
                  f"{r.finished:6.2f}  {r.wire_bytes / 1e3:8.0f} kB {r.encoding or 'identity'}")
    js_done = max((r.finished for r in reqs if r.kind in ("OHIF files", "portal files") and r.finished <= load.first_image_s),
                  default=0.0)
    print(f"  {'last file before image':<22} done {js_done:6.2f}")
    print(f"  {'image data / painted':<22} {load.image_data_s:6.2f} / {load.first_image_s:6.2f}")
    wire = _distinct_frames(reqs)
    print(f"  {'all frames loaded':<22} {load.all_frames_s or float('nan'):6.2f}  ({load.frames} images loaded by OHIF, "
          f"{load.failed} loads failed; {len(wire)} frame answers, {sum(bool(r.failure) for r in wire)} of them "
          f"cancelled by the page after their headers; the last ended at "
          f"{max((r.finished for r in wire), default=float('nan')):.2f})")  # type: ignore[type-var]
    print(f"\n  {'kind':<20} {'requests':>8} {'conns':>5} {'MB wire':>8} {'codings':<28} {'TTFB p50':>9} "
          f"{'TTFB max':>9} {'first':>6} {'last':>6} {'Mbit/s':>7}")
    for kind in ("portal files", "portal API", "OHIF files", "QIDO-RS + metadata", "frames (WADO-RS)"):
        group = [r for r in reqs if r.kind == kind]
        if not group:
            continue
        ttfb = [r.headers_at - r.started for r in group if r.headers_at is not None]
        codings = Counter(r.encoding or "identity" for r in group)
        first_at, last_at = min(r.started for r in group), max(r.finished for r in group)  # type: ignore[type-var]
        sent = sum(r.wire_bytes for r in group)
        print(f"  {kind:<20} {len(group):>8} {len({r.connection for r in group}):>5} "
              f"{sent / 1e6:>8.2f} "
              f"{', '.join(f'{c} {n}' for c, n in codings.most_common()):<28} "
              f"{statistics.median(ttfb) * 1000:>7.0f} ms {max(ttfb) * 1000:>6.0f} ms "
              f"{first_at:>6.2f} {last_at:>6.2f} {sent * 8 / 1e6 / max(last_at - first_at, 1e-3):>7.1f}")
    if load.errors:
        print(f"\n  console errors and warnings: {len(load.errors)}, e.g.")
        for line in load.errors[:4]:
            print(f"    {line[:150]}")
    odd = [r for r in load.requests if r.status >= 400 or (r.failure and not (r.status == 200 and r in wire))]
    if odd:
        print(f"\n  failed or refused (other than frames cancelled after their answer): {len(odd)} requests, e.g.")
        for r in odd[:6]:
            print(f"    {r.status or '-'} {r.failure or ''} {r.path[-70:]}")
    print("\n  largest files before the first image:")
    files = [r for r in reqs if r.kind in ("OHIF files", "portal files") and r.finished <= load.first_image_s]
    for r in sorted(files, key=lambda r: -r.wire_bytes)[:8]:
        print(f"    {r.path[-46:]:<46} {r.wire_bytes / 1e3:8.0f} kB {r.encoding or 'identity':<8} "
              f"{r.started:6.2f} → {r.finished:6.2f}  TTFB {((r.headers_at or r.started) - r.started) * 1000:5.0f} ms")
    early = [r for r in load.requests if r.started <= load.first_image_s]
    unended = [r.path.rsplit("/", 1)[-1] for r in early if r.finished is None]
    print("\n  longest requests before the first image (a stall shows here)"
          + (f"; never ended in the page's log: {', '.join(unended)} (workers load in their own target)"
             if unended else "") + ":")
    for r in sorted((r for r in early if r.finished is not None), key=lambda r: r.finished - r.started,
                    reverse=True)[:4]:
        print(f"    {r.path[-46:]:<46} {r.status or '-':>3} {r.failure or '':<24} {r.started:6.2f} → {r.finished:6.2f}"
              f"  headers {r.headers_at if r.headers_at is not None else float('nan'):6.2f}")
