"""The parameters of WADO-RS rendered resources and thumbnails (PS3.18 8.3.5), checked and bounded at the
edge, in the form Orthanc 1.10's DICOMweb plugin reads them.

Orthanc renders one frame as image/jpeg or image/png; it reads `viewport` as 2 or 6 comma-separated
numbers, `quality` as 1-100 and `window` only as center,width,function. Anything else it refuses with
its own error, so a bad value is refused here first, naming the parameter. `iccprofile` is checked but
not passed on (Orthanc embeds no profile); other keys (annotation, charset) are ignored, as Orthanc
would ignore them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from functions.common.platform.errors import NotAcceptable, ValidationFailed

MAX_VIEWPORT = 4096           # pixels a side: a larger image is memory in Orthanc, not detail on a screen
MAX_REGION = 65535            # a region's offsets and sides lie within an image (Rows, Columns are 16-bit)
MAX_WINDOW = 10_000_000       # |center| and width: beyond any stored pixel value after rescale
MEDIA_TYPES = ("image/jpeg", "image/png")
WINDOW_FUNCTIONS = ("linear", "linear-exact", "sigmoid")
ICC_PROFILES = ("no", "yes", "srgb", "adobergb", "rommrgb")


@dataclass(frozen=True)
class Rendering:
    """What Orthanc is asked for: one media type, and the query parameters in its own form."""

    media_type: str
    params: list[tuple[str, str]]


def rendering(accept: str, args: list[tuple[str, str]], *, frames: str | None = None) -> Rendering:
    """The rendering a request asks for (its Accept header and query string); refuses bad values by name."""
    if frames is not None and "," in frames:
        raise ValidationFailed.field("frames", "a rendered request renders one frame; ask for each on its own")
    media_type = parse_accept_header(accept or "*/*", MIMEAccept).best_match(MEDIA_TYPES)
    if media_type is None:
        raise NotAcceptable.field("Accept", "rendered images are offered as image/jpeg or image/png")
    given: dict[str, str] = {}
    for key, value in args:
        if key in _PARSERS and key in given:
            raise ValidationFailed.field(key, "is given more than once")
        given[key] = value
    params = [(key, _PARSERS[key](value)) for key, value in given.items() if key in _PARSERS]
    return Rendering(media_type, [(key, value) for key, value in params if value is not None])


def _viewport(value: str) -> str:
    parts = value.split(",")
    if len(parts) not in (2, 6):
        raise ValidationFailed.field("viewport", "must be vw,vh or vw,vh,sx,sy,sw,sh (the image's width and "
                                                 "height, then a region of the source)")
    sizes = [_integer("viewport", p, 1, MAX_VIEWPORT, what="each of vw and vh") for p in parts[:2]]
    if len(parts) == 6:
        sx, sy = (_number("viewport", p, 0, MAX_REGION, what="each of sx and sy") for p in parts[2:4])
        sw, sh = (_number("viewport", p, -MAX_REGION, MAX_REGION, what="each of sw and sh") for p in parts[4:])
        if round(sw) == 0 or round(sh) == 0:
            raise ValidationFailed.field("viewport", "sw and sh must not be 0 (a negative side flips the image)")
        sizes += [round(sx), round(sy), round(sw), round(sh)]
    return ",".join(str(n) for n in sizes)


def _quality(value: str) -> str:
    return str(_integer("quality", value, 1, 100))


def _window(value: str) -> str:
    parts = value.split(",")
    if len(parts) not in (2, 3):
        raise ValidationFailed.field("window", "must be center,width or center,width,function (function: "
                                               + ", ".join(WINDOW_FUNCTIONS) + "; linear when left out)")
    function = parts[2].strip().lower() if len(parts) == 3 else "linear"
    if function not in WINDOW_FUNCTIONS:
        raise ValidationFailed.field("window", "function must be one of " + ", ".join(WINDOW_FUNCTIONS))
    center = _number("window", parts[0], -MAX_WINDOW, MAX_WINDOW, what="center")
    width = _number("window", parts[1], 1 if function == "linear" else 0, MAX_WINDOW, what="width")
    if width == 0:
        raise ValidationFailed.field("window", "width must be above 0")
    return f"{center!r},{width!r},{function}"


def _icc_profile(value: str) -> None:
    if value.lower() not in ICC_PROFILES:
        raise ValidationFailed.field("iccprofile", "must be one of " + ", ".join(ICC_PROFILES))


_PARSERS = {"viewport": _viewport, "quality": _quality, "window": _window, "iccprofile": _icc_profile}
# The parameters as the OpenAPI document declares them (what `rendering` checks of their values, in words).
QUERY = {"viewport": {"type": "string", "description": "vw,vh or vw,vh,sx,sy,sw,sh"},
         "quality": {"type": "integer", "minimum": 1, "maximum": 100},
         "window": {"type": "string", "description": "center,width[,function]"},
         "iccprofile": {"enum": list(ICC_PROFILES)}}


def _integer(name: str, text: str, low: int, high: int, *, what: str | None = None) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        message = f"must be a whole number from {low} to {high}"
        raise ValidationFailed.field(name, f"{what} {message}" if what else message)
    return value


def _number(name: str, text: str, low: float, high: float, *, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise ValidationFailed.field(name, f"{what} must be a number from {low:.0f} to {high:.0f}")
    return value
