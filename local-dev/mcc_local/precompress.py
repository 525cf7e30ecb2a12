"""Brotli and gzip copies of the web apps' static files (`x.js.br`, `x.js.gz` beside `x.js`), made once at install
time so the origin sends the smallest copy a browser accepts without compressing on every request.

    python -m mcc_local.precompress [--force] web/dist web/ohif-dist

Idempotent: a copy at least as new as its file is kept; a copy is written only when smaller than its file, and
copies whose file is gone or no longer compresses are removed.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# Text and WebAssembly compress 3-10×; images, fonts (woff2) and archives are compressed already.
# Source maps (.map, 40 MB of OHIF's dist) are fetched only by a developer's tools: not worth 75 CPU-s per install.
COMPRESSIBLE_SUFFIXES = frozenset({".js", ".mjs", ".css", ".html", ".json", ".jsonc", ".webapp", ".svg", ".wasm",
                                   ".txt", ".xml", ".ico"})
# Below this a file fits a packet or two either way.
MIN_BYTES = 256
BROTLI_QUALITY = 11
GZIP_LEVEL = 9


def _brotli(data: bytes) -> bytes:
    import brotli  # only this install step needs it; the origin only reads the copies

    return brotli.compress(data, quality=BROTLI_QUALITY)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)  # mtime=0: the same file gives the same copy


@dataclass(frozen=True)
class Encoding:
    """A content coding (its `Content-Encoding` token) and the suffix of its precompressed copies."""

    name: str
    suffix: str
    compress: Callable[[bytes], bytes]


# In the order the origin prefers them when a client accepts both equally.
ENCODINGS: tuple[Encoding, ...] = (Encoding("br", ".br", _brotli), Encoding("gzip", ".gz", _gzip))


def is_compressible(path: Path) -> bool:
    """Whether files named like `path` get precompressed copies."""
    return path.suffix.lower() in COMPRESSIBLE_SUFFIXES


def current_copy(path: Path, original: os.stat_result, encoding: Encoding) -> os.stat_result | None:
    """The stat of `path`'s copy in `encoding` when it is a regular file at least as new as `path` (`original`)."""
    try:
        copy = os.stat(f"{path}{encoding.suffix}")
    except OSError:
        return None
    if not stat.S_ISREG(copy.st_mode) or copy.st_mtime_ns < original.st_mtime_ns:
        return None
    return copy


def is_copy(path: Path) -> bool:
    """Whether `path` is a precompressed copy of a compressible file that exists (not a file of the app itself)."""
    return any(path.name.endswith(e.suffix) for e in ENCODINGS) and is_compressible(path.with_suffix("")) \
        and path.with_suffix("").is_file()


@dataclass
class FileResult:
    """What precompressing one file did: bytes per encoding a client accepting it downloads, copies made."""

    size: int
    served: dict[str, int]
    made: int = 0
    current: int = 0
    removed: int = 0


@dataclass
class Summary:
    """Totals over a directory, for the install log and the measurements."""

    files: int = 0
    original_bytes: int = 0
    served_bytes: dict[str, int] = field(default_factory=lambda: {e.name: 0 for e in ENCODINGS})
    made: int = 0
    current: int = 0
    removed: int = 0
    seconds: float = 0.0

    def add(self, result: FileResult) -> None:
        self.files += 1
        self.original_bytes += result.size
        for name, size in result.served.items():
            self.served_bytes[name] += size
        self.made += result.made
        self.current += result.current
        self.removed += result.removed


def precompress_file(path: Path, *, force: bool = False) -> FileResult:
    """Make `path`'s missing or outdated copies (all of them with `force`), each kept only when smaller."""
    original = path.stat()
    result = FileResult(original.st_size, {e.name: original.st_size for e in ENCODINGS})
    data: bytes | None = None
    for encoding in ENCODINGS:
        copy_path = Path(f"{path}{encoding.suffix}")
        current = None if force else current_copy(path, original, encoding)
        if current is not None:
            result.current += 1
            result.served[encoding.name] = min(current.st_size, original.st_size)
            continue
        if original.st_size >= MIN_BYTES:
            data = path.read_bytes() if data is None else data
            compressed = encoding.compress(data)
            if len(compressed) < len(data):
                _write_atomically(copy_path, compressed)
                result.made += 1
                result.served[encoding.name] = len(compressed)
                continue
        if copy_path.exists():  # outdated, and its file no longer compresses
            copy_path.unlink()
            result.removed += 1
    return result


def _write_atomically(path: Path, data: bytes) -> None:
    """The origin may be serving while this runs: it sees the old copy or the new one, never a partial one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _walk(root: Path) -> Iterator[Path]:
    for folder, _dirs, names in os.walk(root):  # symbolic links to folders are not followed
        for name in names:
            yield Path(folder) / name


def _is_orphan(path: Path) -> bool:
    if path.name.startswith(".") and path.name.endswith(".partial"):  # left by an interrupted run
        return True
    return any(path.name.endswith(e.suffix) for e in ENCODINGS) and is_compressible(path.with_suffix("")) \
        and not path.with_suffix("").exists()


def remove_orphans(root: Path) -> int:
    """Remove copies whose file is gone (a rebuilt app renames its hashed bundles); returns how many."""
    orphans = [p for p in _walk(root) if _is_orphan(p)]
    for orphan in orphans:
        orphan.unlink()
    return len(orphans)


def precompress_dir(root: Path, *, force: bool = False, workers: int | None = None) -> Summary:
    """Precompress every compressible file under `root` on `workers` processes (default: one per CPU)."""
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory: build the web app first (scripts/install)")
    started = time.monotonic()
    summary = Summary(removed=remove_orphans(root))
    files = [p for p in _walk(root) if is_compressible(p) and stat.S_ISREG(p.lstat().st_mode)]
    files.sort(key=lambda p: p.stat().st_size, reverse=True)  # the largest first keeps every worker busy
    if workers == 1 or len(files) < 2:
        results = [precompress_file(p, force=force) for p in files]
    else:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
            results = list(pool.map(_precompress_forced if force else precompress_file, files))
    for result in results:
        summary.add(result)
    summary.seconds = time.monotonic() - started
    return summary


def _precompress_forced(path: Path) -> FileResult:
    return precompress_file(path, force=True)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    """Command line: precompress each directory given, reporting sizes before and after."""
    parser = argparse.ArgumentParser(prog="python -m mcc_local.precompress", description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="static file folders (missing ones are skipped)")
    parser.add_argument("--force", action="store_true", help="rewrite every copy, even current ones")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="    %(message)s")
    for root in args.dirs:
        if not root.is_dir():
            logger.info("%s: not there; skipping", root)
            continue
        s = precompress_dir(root, force=args.force)
        served = ", ".join(f"{name} {_megabytes(size)}" for name, size in s.served_bytes.items())
        logger.info("%s: %d files, %s -> %s; %d copies made, %d current, %d removed (%.1f s)", root, s.files,
                    _megabytes(s.original_bytes), served, s.made, s.current, s.removed, s.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
