"""Streaming multipart/related parsing for STOW-RS: one part in memory at a time, never the body.

A part's headers are bounded in number and size, checked by the parser as it scans (nothing past a
bound is buffered) and refused with a problem saying so."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser
from werkzeug.http import parse_options_header

from functions.common.platform.errors import BadRequest, PayloadTooLarge

CHUNK = 256 * 1024
MAX_PART_HEADERS = 16           # a DICOM part needs one or two (Content-Type, Content-Location)
MAX_PART_HEADER_BYTES = 8192    # one header line


@dataclass
class Part:
    headers: dict[str, str]
    data: bytes | None  # None when the part was larger than allowed (its bytes were dropped)
    size: int


def iter_parts(stream: BinaryIO, boundary: str, *, max_part_bytes: int, max_total_bytes: int) -> Iterator[Part]:
    """Yield each part as soon as it is complete; refuse bodies over `max_total_bytes`."""
    done: list[Part] = []
    state: dict = {}

    def begin() -> None:
        state.update(headers={}, field=b"", value=b"", data=bytearray(), size=0)

    def header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def header_end() -> None:
        state["headers"][state["field"].decode("latin-1").strip().lower()] = state["value"].decode("latin-1").strip()
        state["field"], state["value"] = b"", b""

    def part_data(data: bytes, start: int, end: int) -> None:
        state["size"] += end - start
        if state["size"] <= max_part_bytes:
            state["data"] += data[start:end]
        else:
            state["data"] = bytearray()

    def part_end() -> None:
        keep = state["size"] <= max_part_bytes
        done.append(Part(state["headers"], bytes(state["data"]) if keep else None, state["size"]))

    parser = MultipartParser(boundary, {
        "on_part_begin": begin, "on_header_field": header_field, "on_header_value": header_value,
        "on_header_end": header_end, "on_part_data": part_data, "on_part_end": part_end,
    }, max_header_count=MAX_PART_HEADERS, max_header_size=MAX_PART_HEADER_BYTES)
    total = 0
    delimiter = b"--" + boundary.encode("latin-1")
    preamble = True  # RFC 2046 allows text (often a bare CRLF) before the first delimiter
    pending = b""
    while chunk := stream.read(CHUNK):
        total += len(chunk)
        if preamble:
            pending += chunk
            start = pending.find(delimiter)
            if start < 0:
                if len(pending) > 4096:
                    raise BadRequest("The multipart body does not start with its boundary.", code="malformed_multipart")
                continue
            chunk, preamble, pending = pending[start:], False, b""
        if total > max_total_bytes:
            raise PayloadTooLarge(f"The upload is larger than {max_total_bytes} bytes; send fewer instances per request.")
        try:
            parser.write(chunk)
        except Exception as e:  # noqa: BLE001 - the parser's errors all mean a malformed body
            if isinstance(e, MultipartParseError) and str(e).startswith("Maximum header"):
                raise PayloadTooLarge(f"A part has more than {MAX_PART_HEADERS} headers or a header line over "
                                      f"{MAX_PART_HEADER_BYTES} bytes; a DICOM part needs only its Content-Type.",
                                      code="part_headers_too_large") from None
            raise BadRequest(f"The multipart body is malformed: {e}.", code="malformed_multipart") from None
        while done:
            yield done.pop(0)
    parser.finalize()
    yield from done


def boundary_of(content_type: str) -> tuple[str, str | None]:
    """(boundary, type parameter) of a multipart/related Content-Type header."""
    _, params = parse_options_header(content_type)
    if "boundary" not in params:
        raise BadRequest("The Content-Type needs a boundary parameter.", code="malformed_multipart")
    return params["boundary"], params.get("type")
