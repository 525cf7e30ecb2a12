"""mcc_local.precompress: brotli and gzip copies beside the static files, made only when smaller, idempotently."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import brotli
import pytest
from mcc_local import precompress
from mcc_local.precompress import precompress_dir

SCRIPT = b"".join(b"export function f%d(study) { return study.series.map((s) => s.instances.length); }\n" % i
                  for i in range(400))


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A small built web app: text that compresses, and files that must stay alone."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(b"<!doctype html><html><body>" + b"<div>portal</div>" * 100 + b"</body></html>")
    (tmp_path / "assets" / "index-3f2a.js").write_bytes(SCRIPT)
    (tmp_path / "assets" / "codec.wasm").write_bytes(b"\0asm\1\0\0\0" + bytes(range(256)) * 64)
    (tmp_path / "assets" / "noise.js").write_bytes(os.urandom(8192))  # compressible by name, not by content
    (tmp_path / "assets" / "logo.png").write_bytes(SCRIPT)  # compresses, but images are never precompressed
    (tmp_path / "favicon.svg").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")  # below MIN_BYTES
    (tmp_path / ".mcc-build-hash").write_text("abc\n")  # install's stamp stays as it is
    return tmp_path


def _copies(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in (".br", ".gz"))


def test_copies_decode_to_their_file_and_are_smaller(dist: Path) -> None:
    precompress_dir(dist, workers=1)
    assert _copies(dist) == ["assets/codec.wasm.br", "assets/codec.wasm.gz", "assets/index-3f2a.js.br",
                             "assets/index-3f2a.js.gz", "index.html.br", "index.html.gz"]
    for name in ("index.html", "assets/index-3f2a.js", "assets/codec.wasm"):
        original = (dist / name).read_bytes()
        br, gz = (dist / f"{name}.br").read_bytes(), (dist / f"{name}.gz").read_bytes()
        assert brotli.decompress(br) == original and gzip.decompress(gz) == original
        assert len(br) < len(gz) < len(original) / 3


def test_files_that_do_not_compress_images_and_tiny_files_get_no_copy(dist: Path) -> None:
    summary = precompress_dir(dist, workers=1)
    for name in ("assets/noise.js", "assets/logo.png", "favicon.svg", ".mcc-build-hash"):
        assert not any((dist / f"{name}{suffix}").exists() for suffix in (".br", ".gz")), name
    assert summary.files == 5  # html, js, wasm, noise.js, svg; not the png or the stamp
    noise = (dist / "assets" / "noise.js").stat().st_size
    assert summary.original_bytes == sum((dist / n).stat().st_size for n in (
        "index.html", "assets/index-3f2a.js", "assets/codec.wasm", "assets/noise.js", "favicon.svg"))
    assert summary.served_bytes["br"] < summary.served_bytes["gzip"] < summary.original_bytes
    assert summary.served_bytes["br"] > noise  # a file without a copy counts as sent whole


def test_a_second_run_keeps_current_copies_and_redoes_outdated_ones(dist: Path) -> None:
    first = precompress_dir(dist, workers=1)
    assert (first.made, first.current) == (6, 0)
    stamps = {name: os.stat(dist / name).st_mtime_ns for name in _copies(dist)}
    again = precompress_dir(dist, workers=1)
    assert (again.made, again.current, again.removed) == (0, 6, 0)
    assert {name: os.stat(dist / name).st_mtime_ns for name in _copies(dist)} == stamps
    assert again.served_bytes == first.served_bytes

    script = dist / "assets" / "index-3f2a.js"
    script.write_bytes(SCRIPT + b"export const edited = true;\n")
    later = os.stat(script.with_name("index-3f2a.js.br")).st_mtime_ns + 1_000_000_000
    os.utime(script, ns=(later, later))  # edited after its copies were made
    edited = precompress_dir(dist, workers=1)
    assert (edited.made, edited.current) == (2, 4)
    assert brotli.decompress((dist / "assets" / "index-3f2a.js.br").read_bytes()) == script.read_bytes()
    assert gzip.decompress((dist / "assets" / "index-3f2a.js.gz").read_bytes()) == script.read_bytes()


def test_copies_of_files_gone_or_no_longer_compressible_are_removed(dist: Path) -> None:
    precompress_dir(dist, workers=1)
    (dist / "assets" / "index-3f2a.js").unlink()  # a rebuild renamed its hashed bundle
    html = dist / "index.html"
    html.write_bytes(os.urandom(4096))
    later = os.stat(dist / "index.html.br").st_mtime_ns + 1_000_000_000
    os.utime(html, ns=(later, later))
    (dist / "assets" / ".index-9.js.br.abc.partial").write_bytes(b"half")  # left by an interrupted run
    summary = precompress_dir(dist, workers=1)
    assert _copies(dist) == ["assets/codec.wasm.br", "assets/codec.wasm.gz"]
    assert summary.removed == 5 and not list(dist.rglob("*.partial"))


def test_force_rewrites_current_copies(dist: Path) -> None:
    precompress_dir(dist, workers=1)
    (dist / "index.html.gz").write_bytes(b"not gzip, but newer than its file")
    assert precompress_dir(dist, workers=1, force=True).made == 6
    assert gzip.decompress((dist / "index.html.gz").read_bytes()) == (dist / "index.html").read_bytes()


def test_worker_processes_make_the_same_copies(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    serial = precompress_dir(dist, workers=1)
    other = tmp_path_factory.mktemp("parallel")
    for path in dist.rglob("*"):
        if path.is_file() and path.suffix not in (".br", ".gz"):
            (other / path.relative_to(dist)).parent.mkdir(parents=True, exist_ok=True)
            (other / path.relative_to(dist)).write_bytes(path.read_bytes())
    parallel = precompress_dir(other, workers=2)
    assert parallel.made == serial.made and parallel.served_bytes == serial.served_bytes
    assert all((other / name).read_bytes() == (dist / name).read_bytes() for name in _copies(dist))


def test_the_command_line_reports_sizes_and_skips_missing_folders(dist: Path, tmp_path_factory) -> None:
    missing = tmp_path_factory.mktemp("empty") / "not-built"
    env = {**os.environ, "PYTHONPATH": str(Path(precompress.__file__).parents[1])}
    run = subprocess.run([sys.executable, "-m", "mcc_local.precompress", str(dist), str(missing)], env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    assert "6 copies made, 0 current, 0 removed" in run.stderr and f"{missing}: not there; skipping" in run.stderr
    assert len(_copies(dist)) == 6


def test_a_missing_folder_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError, match="build the web app first"):
        precompress_dir(tmp_path / "dist")
