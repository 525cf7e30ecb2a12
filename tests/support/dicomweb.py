"""Helpers to talk DICOMweb to the gateway in tests: build STOW bodies, split multipart answers."""

from __future__ import annotations

import io

from mcc_local.dicomgen import to_bytes

from functions.dicomweb.multipart import boundary_of, iter_parts


def multipart(parts: list[bytes], boundary: str = "mcc-test-boundary") -> tuple[bytes, str]:
    body = b"".join(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + p + b"\r\n" for p in parts)
    return body + f"--{boundary}--\r\n".encode(), f'multipart/related; type="application/dicom"; boundary={boundary}'


def stow(client, datasets, *, study_uid: str | None = None, raw: list[bytes] | None = None, headers=None):
    body, ctype = multipart(raw if raw is not None else [to_bytes(d) for d in datasets])
    path = "/dicom-web/studies" + (f"/{study_uid}" if study_uid else "")
    return client.post(path, data=body, headers={"Content-Type": ctype, "Accept": "application/dicom+json",
                                                 **(headers or {})})


def parts_of(resp) -> list[bytes]:
    boundary, _ = boundary_of(resp.headers["Content-Type"])
    return [p.data for p in iter_parts(io.BytesIO(resp.content), boundary, max_part_bytes=1 << 30,
                                       max_total_bytes=1 << 31)]
