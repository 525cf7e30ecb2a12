"""The editor's files and uploaded weights become one deterministic zip, checked before anything unpacks it."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from model_builder.archive import ArchiveError, Limits, check_archive
from model_builder.validation import Bundle, ValidationFailed, assemble, open_archive, unpack

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "uploads" / "upload-1"
    path.parent.mkdir()
    path.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    return path


def refused(files, weights=None, **kwargs) -> list:
    with pytest.raises(ValidationFailed) as caught:
        assemble(files, weights or {}, **kwargs)
    assert all(problem.stage == "archive" for problem in caught.value.problems)
    return caught.value.problems


def test_assembled_zip_is_sorted_with_fixed_times_and_modes_text_deflated_weights_stored(classical, weights, tmp_path):
    bundle = assemble(classical, {"models/model.pt": weights}, directory=tmp_path)
    assert bundle.path.parent == tmp_path and bundle.size == bundle.path.stat().st_size
    assert bundle.digest == hashlib.sha256(bundle.path.read_bytes()).hexdigest()
    with zipfile.ZipFile(bundle.path) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["app.py", "manifest.json", "models/model.pt"]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {stat.S_IMODE(i.external_attr >> 16) for i in infos} == {0o644}
        assert [i.compress_type for i in infos] == [zipfile.ZIP_DEFLATED, zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]
        assert archive.read("models/model.pt") == weights.read_bytes()
        assert archive.read("app.py").decode() == classical["app.py"]
    assert {m.path for m in bundle.members} == {"app.py", "manifest.json", "models/model.pt"}


def test_same_content_gives_the_same_digest_and_one_changed_byte_another(classical, weights, tmp_path):
    copy = tmp_path / "elsewhere" / "weights.bin"
    copy.parent.mkdir()
    shutil.copyfile(weights, copy)
    os.utime(copy, (1_000_000, 1_000_000))  # another name and time on disk: not part of the bundle
    first = assemble(classical, {"models/model.pt": weights})
    again = assemble(dict(reversed(list(classical.items()))), {"models/model.pt": copy})
    assert first.digest == again.digest and first.path != again.path
    edited = assemble({**classical, "app.py": classical["app.py"].replace("-300.0", "-301.0")},
                      {"models/model.pt": weights})
    data = bytearray(copy.read_bytes())
    data[123_456] ^= 1
    copy.write_bytes(bytes(data))
    reweighted = assemble(classical, {"models/model.pt": copy})
    assert len({first.digest, edited.digest, reweighted.digest}) == 3
    for bundle in (first, again, edited, reweighted):
        bundle.discard()
        assert not bundle.path.exists()


@pytest.mark.parametrize(("name", "says"), [
    ("../escape.py", "'..'"),
    ("/etc/cron.d/x.py", "absolute"),
    ("models\\model.pt", "backslash"),
    ("app\x00.py", "NUL"),
    ("a" * 198 + ".py", "at most 200"),
    ("my model.py", "' '"),
    ("modèle.py", "'è'"),
    ("models//model.py", "empty or '.' folder"),
    ("./app.py", "empty or '.' folder"),
    ("", "empty name"),
])
def test_every_editor_path_rule_is_a_problem_naming_the_file(classical, name, says):
    problems = refused({**classical, name: "x = 1\n"})
    assert [(p.file, says in p.message) for p in problems] == [(name, True)]


def test_every_broken_rule_is_reported_at_once_and_nothing_is_written(classical, weights, tmp_path):
    problems = refused({**classical, "../a.py": "", "b c.py": "", "App.py": "", "models": "",
                        "latin1.py": "caf\xe9 = 1".encode("latin-1")},
                       {"models/model.pt": weights, "app.py": weights, "models/extra.pt": tmp_path / "gone"},
                       directory=tmp_path)
    found = {(p.file, p.message.split(":")[0]) for p in problems}
    assert {p.file for p in problems} == {"../a.py", "b c.py", "models", "latin1.py", "app.py", "models/extra.pt"}
    assert any(p.file == "app.py" and "same name as App.py apart from upper/lower case" in p.message
               for p in problems)
    assert ("latin1.py", "is not UTF-8 text (at character or byte 3)") in found
    assert any(p.file == "models" and "both a file and a folder" in p.message for p in problems)
    assert any(p.file == "app.py" and "both a code file and an uploaded weight file" in p.message for p in problems)
    missing = next(p for p in problems if p.file == "models/extra.pt")
    assert "upload it again" in missing.message and str(tmp_path) not in missing.message  # no server path shown
    assert not list(tmp_path.glob("*.zip"))


def test_text_that_cannot_be_utf8_is_refused(classical):
    problems = refused({**classical, "notes.md": "half a pair \ud800"})
    assert [p.file for p in problems] == ["notes.md"] and "UTF-8" in problems[0].message


def test_a_weight_file_over_the_limit_is_refused_before_it_is_copied(classical, weights, tmp_path):
    problems = refused(classical, {"models/model.pt": weights}, limits=Limits(max_member_bytes=1000),
                       directory=tmp_path)
    assert [(p.file, p.message) for p in problems] == [("models/model.pt", f"{1 << 20} bytes; at most 1000 per file")]
    assert not list(tmp_path.glob("*.zip"))


def test_the_archive_check_runs_on_the_assembled_zip_and_its_problems_name_the_member(classical, tmp_path):
    problems = refused({**classical, "blank.txt": " " * 1_000_000}, directory=tmp_path)
    assert [p.file for p in problems] == ["blank.txt", None]
    assert all(" times; at most 100" in p.message for p in problems)  # the member, and the archive as a whole
    problems = refused({**classical, "a.py": "", "b.py": ""}, limits=Limits(max_members=3), directory=tmp_path)
    assert [(p.file, p.message) for p in problems] == [(None, "4 members; at most 3")]
    assert not list(tmp_path.glob("*.zip"))  # a refused bundle leaves no file behind


def test_an_uploaded_zoo_zip_is_checked_and_hashed_and_unpacks_privately(zoo_metadata, zoo_files, tmp_path):
    path = tmp_path / "spleen.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("configs/", "")  # zoo zips list their folders
        for name, content in zoo_files(zoo_metadata).items():
            archive.writestr(name, content)
    bundle = open_archive(path)
    assert bundle.path == path and bundle.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert {m.path for m in bundle.members} == {"configs/metadata.json", "configs/inference.json", "models/model.pt"}
    root = unpack(bundle, tmp_path / "unpacked")
    assert (root / "models" / "model.pt").read_bytes() == b"\x80\x02weights"
    assert stat.S_IMODE((root / "configs").stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "configs" / "metadata.json").stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="not empty"):
        unpack(bundle, root)


def test_unpack_never_writes_outside_its_folder_even_for_an_unchecked_zip(tmp_path):
    path = tmp_path / "unchecked.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok.py", "x = 1\n")
        archive.writestr("../escaped.py", "x = 1\n")
    bundle = Bundle(path=path, digest="0" * 64, size=path.stat().st_size, members=())
    with pytest.raises(ValidationFailed, match="would leave the bundle"):
        unpack(bundle, tmp_path / "out")
    assert not (tmp_path / "escaped.py").exists() and list((tmp_path / "out").iterdir()) == []


def test_an_unsafe_or_foreign_upload_is_refused_with_every_member_named(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("../evil.py", "/etc/x", "ok.py", "OK.py"):
            archive.writestr(name, "x = 1\n")
    with pytest.raises(ValidationFailed) as caught:
        open_archive(path)
    assert {p.file for p in caught.value.problems} == {"../evil.py", "/etc/x", "OK.py"}
    assert {p.stage for p in caught.value.problems} == {"archive"}
    tar = tmp_path / "bundle.tar"
    shutil.make_archive(str(tar.with_suffix("")), "tar", ROOT / "model_builder" / "templates" / "classification")
    for upload, says in ((tar, "not a zip archive"), (tmp_path / "missing.zip", "missing")):
        with pytest.raises(ValidationFailed) as caught:
            open_archive(upload)
        assert [(p.file, says in p.message) for p in caught.value.problems] == [(None, True)]


@pytest.mark.parametrize("entries", [
    {"a.txt": b" " * 2_000_000},                              # a member and the whole expand too much
    {"a.txt": b" " * 50_000, "b.bin": os.urandom(2_000)},     # only the member does
    {f"f{i}.txt": b"x" * 100 for i in range(30)},            # too many members
    {"ok.py": b"x = 1\n", "models/model.pt": os.urandom(10_000)},
])
def test_open_archive_judges_as_check_archive_does_on_the_whole_file(entries, tmp_path):
    limits = Limits(max_members=20)
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    try:
        expected = [(m.path, m.size) for m in check_archive(path.read_bytes(), limits)]
    except ArchiveError as e:
        with pytest.raises(ValidationFailed) as caught:
            open_archive(path, limits=limits)
        assert [(p.file or "", p.message) for p in caught.value.problems] == e.problems
    else:
        assert [(m.path, m.size) for m in open_archive(path, limits=limits).members] == expected


STREAMING = """
import resource, sys, time
from pathlib import Path
from model_builder.validation import assemble, open_archive
weights = Path(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
bundle = assemble({"app.py": "x = 1\\n", "manifest.json": "{}"}, {"models/model.pt": weights}, directory=weights.parent)
assembled = time.perf_counter() - start
reopened = open_archive(bundle.path)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, bundle.size, bundle.digest == reopened.digest, assembled, time.perf_counter() - start - assembled)
"""


@pytest.mark.timeout(180)
def test_a_300_mb_weight_file_is_streamed_not_held_in_memory(tmp_path):
    weights = tmp_path / "model.pt"
    with open(weights, "wb") as sparse:
        sparse.truncate(300 * 1024 * 1024)
    result = subprocess.run([sys.executable, "-c", STREAMING, str(weights)], cwd=ROOT, capture_output=True,
                            text=True, timeout=170)
    assert result.returncode == 0, result.stderr
    before, after, size, same, assembled, reopened = result.stdout.split()
    assert size.isdigit() and int(size) > 300 * 1024 * 1024 and same == "True"
    grown_mib = (int(after) - int(before)) / 1024  # ru_maxrss is in KiB on Linux
    print(f"300 MiB weights: assemble {float(assembled):.2f} s, open_archive {float(reopened):.2f} s,"
          f" max RSS grew {grown_mib:.1f} MiB")
    assert grown_mib < 48
