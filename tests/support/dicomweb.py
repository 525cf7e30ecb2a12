"""Helpers to talk DICOMweb to the gateway in tests: build STOW bodies, split multipart answers."""

from __future__ import annotations

import io
import uuid

from mcc_local.dicomgen import Patient, ct_series, to_bytes

from functions.dicomweb.multipart import boundary_of, iter_parts

# What WADO-RS is asked for: whole instances, or frames' pixels.
DICOM_PARTS = 'multipart/related; type="application/dicom"'
FRAME_PARTS = 'multipart/related; type="application/octet-stream"'


def instance_path(ds) -> str:
    """The WADO-RS path of a stored instance (append /frames/1, /rendered, … for its parts)."""
    return f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"


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


def stored_slice(client, name: str, *, rows: int = 16, columns: int = 16):
    """One generated CT slice of a patient of its own (named `name`), stored through the gateway by `client`."""
    (ds,) = ct_series(Patient(name=name, patient_id=f"P-{uuid.uuid4().hex[:12]}"), slices=1, rows=rows,
                      columns=columns)
    r = stow(client, [ds])
    assert r.status_code == 200, r.text
    return ds
