"""A researcher's bundle archive is checked before anything of it is written: every unsafe member is named."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from model_builder.archive import ArchiveError, Limits, check_archive, extract
from tests.support.archives import make_zip

APP = b"from model_builder import Application\n"


def a_tar(members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None, mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for info in members:
            body = (data or {}).get(info.name)
            if body is not None:
                info.size = len(body)
            archive.addfile(info, io.BytesIO(body) if body is not None else None)
    return buffer.getvalue()


def a_member(name: str, kind: bytes = tarfile.REGTYPE, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


DEFAULT = Limits()


def problems(data: bytes, limits: Limits = DEFAULT) -> dict[str, str]:
    with pytest.raises(ArchiveError) as caught:
        check_archive(data, limits)
    return dict(caught.value.problems)


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_a_well_formed_bundle_is_listed_and_unpacked_privately(kind: str, tmp_path: Path):
    files = {"manifest.json": b"{}", "app/app.py": APP, "./models/model.pt": b"\x00" * 1000}
    data = make_zip(files) if kind == "zip" else a_tar([a_member(n) for n in files], files)
    members = check_archive(data)
    assert {m.path: m.size for m in members} == {"manifest.json": 2, "app/app.py": len(APP), "models/model.pt": 1000}
    extract(data, tmp_path / "bundle")
    assert (tmp_path / "bundle" / "app" / "app.py").read_bytes() == APP
    assert stat.S_IMODE((tmp_path / "bundle" / "models").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "bundle" / "manifest.json").stat().st_mode) == 0o600


def test_every_path_leaving_the_bundle_is_named_at_once():
    found = problems(make_zip({"../evil.py": b"", "/etc/cron.d/x": b"", "a/../../x": b"", "C:/x": b"",
                            "a\\b.py": b"", "ok.py": APP}))
    assert set(found) == {"../evil.py", "/etc/cron.d/x", "a/../../x", "C:/x", "a\\b.py"}
    assert "leaving the bundle" in found["../evil.py"] and "backslash" in found["a\\b.py"]


@pytest.mark.parametrize("member, word", [
    (a_member("link.py", tarfile.SYMTYPE, linkname="/etc/passwd"), "link"),
    (a_member("hard.py", tarfile.LNKTYPE, linkname="app.py"), "link"),
    (a_member("dev", tarfile.CHRTYPE, devmajor=1, devminor=3), "device"),
    (a_member("pipe", tarfile.FIFOTYPE), "FIFO"),
])
def test_links_devices_and_fifos_are_refused(member: tarfile.TarInfo, word: str):
    found = problems(a_tar([a_member("app.py"), member], {"app.py": APP}))
    assert list(found) == [member.name] and word in found[member.name]


def test_a_symbolic_link_in_a_zip_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", APP)
        link = zipfile.ZipInfo("weights.pt")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/var/keys/platform/index.key.sealed")
    assert "link" in problems(buffer.getvalue())["weights.pt"]


def test_a_decompression_bomb_is_refused_by_its_ratio():
    found = problems(make_zip({"app.py": APP, "zeros.pt": bytes(4 * 1024 * 1024)}))
    assert "expands" in found["zeros.pt"] and "expands" in found[""]


def test_sizes_and_counts_are_bounded():
    limits = Limits(max_total_bytes=3000, max_member_bytes=2000, max_members=3, max_ratio=1e9)
    with pytest.raises(ArchiveError) as caught:
        check_archive(make_zip({"a.pt": bytes(2500), "b.pt": bytes(1000), "c.py": APP, "d.py": APP},
                            compression=zipfile.ZIP_STORED), limits)
    found = caught.value.problems
    assert ("a.pt", "2500 bytes; at most 2000 per file") in found
    assert ("", "4 members; at most 3") in found
    assert any(member == "" and "unpacked; at most 3000" in message for member, message in found)


def test_a_name_twice_and_an_empty_or_foreign_file_are_refused():
    assert "twice" in problems(a_tar([a_member("app.py"), a_member("APP.py")], {"app.py": APP, "APP.py": APP}))["APP.py"]
    assert "no files" in problems(make_zip({}))[""]
    assert "neither a zip nor" in problems(b"#!/bin/sh\nrm -rf /\n")[""]


def test_a_member_that_fails_while_unpacking_leaves_nothing_behind(tmp_path: Path):
    data = bytearray(make_zip({"a.py": APP, "b.pt": b"W" * 5000}, compression=zipfile.ZIP_STORED))
    data[data.rindex(b"W" * 100)] ^= 0xFF  # b.pt's bytes no longer match its CRC
    destination = tmp_path / "bundle"
    with pytest.raises(ArchiveError, match="could not be unpacked"):
        extract(bytes(data), destination)
    assert list(destination.iterdir()) == []


def test_unpacking_needs_an_empty_folder(tmp_path: Path):
    (tmp_path / "old.py").write_bytes(b"")
    with pytest.raises(ArchiveError, match="not empty"):
        extract(make_zip({"app.py": APP}), tmp_path)
