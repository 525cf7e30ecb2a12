"""Layers are reproducible: the same bundle gives the same digest from any directory, with any file times or
modes; another bundle gives another layer; a bundle layer holds exactly the bundle's files."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from model_builder.images import recipes
from model_builder.images.errors import MissingInput
from model_builder.images.oci import read_layer_members

SAMPLE_BUNDLE = recipes.SAMPLE_BUNDLES[0]


def _copy_bundle(destination: Path, mtime: int, private: bool = False) -> Path:
    bundle = shutil.copytree(SAMPLE_BUNDLE, destination, ignore=shutil.ignore_patterns("__pycache__"))
    for path in [bundle, *bundle.rglob("*")]:
        if private and path.is_file():
            path.chmod(0o600)
        os.utime(path, (mtime, mtime))
    return bundle


def _fresh_context(work: Path) -> recipes.Context:
    """A context whose layout and cache are new: every layer is really written."""
    return recipes.Context.at(work, use_cache=False)


def test_same_bundle_gives_same_layer_digest_from_other_dirs_times_and_modes(tmp_path: Path) -> None:
    first = _copy_bundle(tmp_path / "a" / "bundle", mtime=1_000_000_000)
    second = _copy_bundle(tmp_path / "elsewhere" / "deeper" / "copy", mtime=1_700_000_000, private=True)

    one = recipes.bundle_layer(_fresh_context(tmp_path / "work1"), first)
    two = recipes.bundle_layer(_fresh_context(tmp_path / "work2"), second)

    assert one.digest == two.digest
    assert one.diff_id == two.diff_id
    assert (tmp_path / "work1" / "layout" / "blobs" / "sha256" / one.digest[7:]).read_bytes() == \
        (tmp_path / "work2" / "layout" / "blobs" / "sha256" / two.digest[7:]).read_bytes()


def test_a_changed_bundle_gives_another_layer(tmp_path: Path) -> None:
    bundle = _copy_bundle(tmp_path / "bundle", mtime=1_000_000_000)
    ctx = _fresh_context(tmp_path / "work")
    before = recipes.bundle_layer(ctx, bundle)
    (bundle / "app.py").write_text((bundle / "app.py").read_text() + "\n# tuned\n")

    after = recipes.bundle_layer(ctx, bundle)

    assert after.digest != before.digest


def test_bundle_layer_holds_exactly_the_bundle_files_with_fixed_times_and_owners(tmp_path: Path) -> None:
    bundle = _copy_bundle(tmp_path / "bundle", mtime=1_234_567_890, private=True)
    ctx = _fresh_context(tmp_path / "work")
    layer = recipes.bundle_layer(ctx, bundle)

    members = list(read_layer_members(ctx.store.path(layer.digest)))

    prefix = recipes.BUNDLE_DIR.lstrip("/") + "/"
    files = {m.name.removeprefix(prefix) for m in members if m.isfile()}
    assert files == {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert {m.name for m in members if m.isdir()} == {"opt", "opt/mcc", "opt/mcc/bundle"}
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in members)
    assert all(m.mode == 0o644 for m in members if m.isfile())  # readable by the image user, writable by nobody


def test_layer_digest_is_the_sha256_of_its_blob_and_diff_id_of_its_tar(tmp_path: Path) -> None:
    ctx = _fresh_context(tmp_path / "work")
    layer = recipes.bundle_layer(ctx, _copy_bundle(tmp_path / "bundle", mtime=1))
    blob = ctx.store.path(layer.digest).read_bytes()

    assert layer.digest == f"sha256:{hashlib.sha256(blob).hexdigest()}"
    assert layer.diff_id == f"sha256:{hashlib.sha256(gzip.decompress(blob)).hexdigest()}"
    assert blob[4:8] == b"\0\0\0\0"  # gzip header mtime 0
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        assert all("mtime" not in m.pax_headers for m in tar.getmembers())


def test_missing_bundle_is_refused_naming_the_path(tmp_path: Path) -> None:
    ctx = _fresh_context(tmp_path / "work")
    missing = tmp_path / "no-such-bundle"

    with pytest.raises(MissingInput, match="no-such-bundle") as raised:
        recipes.model_version_image(ctx, missing, "1")

    assert raised.value.what == "bundle"


def test_folder_without_manifest_is_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "app.py").write_text("print('hi')\n")

    with pytest.raises(MissingInput, match="manifest.json"):
        recipes.bundle_layer(_fresh_context(tmp_path / "work"), tmp_path / "bundle")
