"""A bundle as one deterministic zip on disk: the editor's files and the uploaded weights, or an uploaded archive.

The zip's SHA-256 is the version's address, so the same content always gives the same bytes: names sorted,
fixed timestamps and permissions, text deflated at a fixed level, weights stored. Weights are streamed (hundreds
of MB never sit in memory), and the archive is checked with `model_builder.archive.check_archive` like any upload.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..archive import ArchiveError, Limits, Member, check_archive
from .paths import clash_problems, path_problems
from .problems import Problem, ValidationFailed

log = logging.getLogger(__name__)

DEFAULT_LIMITS = Limits()
_CHUNK = 1 << 20
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
_FILE_MODE = (stat.S_IFREG | 0o644) << 16
_TEXT_LEVEL = 6
# check_archive reads the whole archive into memory; we give it only the zip's directory, after as many zero
# bytes as its whole-archive ratio check needs to judge like on the real file (bounded: past this, the declared
# size is far over any total limit anyway).
_MAX_PADDING = 64 << 20


@dataclass(frozen=True)
class Bundle:
    """A checked bundle archive: its zip on disk, the zip's SHA-256 (the version's address), size and files."""

    path: Path
    digest: str
    size: int
    members: tuple[Member, ...]

    def discard(self) -> None:
        """Delete the zip (a temporary file once its bytes are stored elsewhere)."""
        self.path.unlink(missing_ok=True)


def assemble(files: Mapping[str, str | bytes], weights: Mapping[str, Path], *, limits: Limits = DEFAULT_LIMITS,
             directory: Path | None = None) -> Bundle:
    """The editor's text files and the weight files on disk as one deterministic, checked zip in `directory`."""
    texts, sizes, problems = _prepare(files, weights, limits)
    if problems:
        raise ValidationFailed(problems)
    fd, name = tempfile.mkstemp(prefix="bundle-", suffix=".zip", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w") as archive:
            for member in sorted([*texts, *weights]):
                if member in texts:
                    archive.writestr(_info(member, zipfile.ZIP_DEFLATED), texts[member], compresslevel=_TEXT_LEVEL)
                else:
                    _write_stored(archive, member, Path(weights[member]), sizes[member])
        return _checked(path, limits)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def open_archive(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> Bundle:
    """An uploaded zip (a bundle or a MONAI model-zoo bundle), checked and hashed without reading it into memory."""
    path = Path(path)
    if not path.is_file():
        raise ValidationFailed([Problem("archive", None, None, None, "the uploaded archive is missing: upload again")])
    if not zipfile.is_zipfile(path):
        raise ValidationFailed([Problem("archive", None, None, None,
                                        "not a zip archive: zip the bundle's folder contents and upload the .zip")])
    return _checked(path, limits)


def unpack(bundle: Bundle, destination: Path) -> Path:
    """Stream a checked bundle's files into `destination` (new or empty; folders 0700, files 0600)."""
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(destination.iterdir()):
        raise ValueError(f"{destination} is not empty: unpack a bundle into a new folder")
    try:
        with zipfile.ZipFile(bundle.path) as archive:
            for info in archive.infolist():
                parts = [part for part in PurePosixPath(info.filename).parts if part not in ("", ".")]
                if info.is_dir() or not parts:
                    continue
                if parts[0].startswith("/") or ".." in parts or "\\" in info.filename:
                    raise OSError(f"{info.filename!r} would leave the bundle: open the archive with open_archive")
                target = destination.joinpath(*parts)
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                # ZipExtFile yields at most the declared (checked) size and verifies the CRC at the end.
                with os.fdopen(fd, "wb") as out, archive.open(info) as source:
                    shutil.copyfileobj(source, out, _CHUNK)
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        for child in destination.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        raise ValidationFailed([Problem("archive", None, None, None, f"could not be unpacked: {e}")]) from e
    return destination


def _prepare(files: Mapping[str, str | bytes], weights: Mapping[str, Path],
             limits: Limits) -> tuple[dict[str, bytes], dict[str, int], list[Problem]]:
    """The text files as UTF-8 bytes, the weights' sizes, and every problem with the names and contents."""
    problems: list[Problem] = []
    texts: dict[str, bytes] = {}
    sizes: dict[str, int] = {}
    for name in sorted(set(files) & set(weights)):
        problems.append(Problem("archive", name, None, None, "is both a code file and an uploaded weight file"))
    for name in sorted({*files, *weights}, key=str):
        problems.extend(Problem("archive", str(name), None, None, message) for message in path_problems(name))
    for name, content in files.items():
        if not isinstance(content, (str, bytes)):
            problems.append(Problem("archive", str(name), None, None, "the content must be text"))
            continue
        try:
            data = content.encode("utf-8") if isinstance(content, str) else content
            data.decode("utf-8")  # bytes must be UTF-8 text too
            texts[name] = data
        except UnicodeError as e:
            problems.append(Problem("archive", name, None, None, f"is not UTF-8 text (at character or byte {e.start}):"
                                    " save it as UTF-8, and upload binary files as weights"))
    for name, source in weights.items():
        try:
            info = os.stat(source)
        except (OSError, TypeError, ValueError):
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            problems.append(Problem("archive", name, None, None,
                                    "the uploaded weight file is missing: upload it again"))
            continue
        sizes[name] = info.st_size
        if info.st_size > limits.max_member_bytes:  # refused before writing it: check_archive would after
            problems.append(Problem("archive", name, None, None,
                                    f"{info.st_size} bytes; at most {limits.max_member_bytes} per file"))
    problems.extend(Problem("archive", name, None, None, message)
                    for name, message in clash_problems({n for n in [*files, *weights] if isinstance(n, str)}))
    total = sum(sizes.values()) + sum(len(t) for t in texts.values())
    if total > limits.max_total_bytes:
        problems.append(Problem("archive", None, None, None, f"{total} bytes in all; at most {limits.max_total_bytes}"))
    return texts, sizes, problems


def _info(name: str, compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = compression
    info.external_attr = _FILE_MODE
    info.create_system = 3  # Unix, so the mode above is read as one
    return info


def _write_stored(archive: zipfile.ZipFile, name: str, source: Path, size: int) -> None:
    info = _info(name, zipfile.ZIP_STORED)
    info.file_size = size
    copied = 0
    with open(source, "rb") as weights, archive.open(info, "w", force_zip64=size > zipfile.ZIP64_LIMIT) as out:
        while chunk := weights.read(_CHUNK):
            copied += len(chunk)
            out.write(chunk)
    if copied != size:
        raise ValidationFailed([Problem("archive", name, None, None,
                                        "the uploaded weight file changed while the bundle was built: try again")])


def _checked(path: Path, limits: Limits) -> Bundle:
    """The bundle at `path` once check_archive accepts it; ValidationFailed with every archive problem otherwise."""
    size = path.stat().st_size
    try:
        members = check_archive(_directory_view(path, size, limits), limits)
    except ArchiveError as e:
        raise ValidationFailed([Problem("archive", member or None, None, None, message)
                                for member, message in e.problems]) from e
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        while chunk := data.read(_CHUNK):
            digest.update(chunk)
    bundle = Bundle(path=path, digest=digest.hexdigest(), size=size, members=tuple(members))
    log.info("bundle checked", extra={"digest": bundle.digest, "bytes": size, "files": len(members)})
    return bundle


def _directory_view(path: Path, size: int, limits: Limits) -> bytes:
    """A stand-in for the zip that check_archive judges as it would the whole file: zero bytes, then the central
    directory and end record read from the file (zipfile locates the directory from the end record)."""
    try:
        with zipfile.ZipFile(path) as archive:
            start = archive.start_dir
            unpacked = sum(info.file_size for info in archive.infolist() if not info.is_dir())
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValidationFailed([Problem("archive", None, None, None, f"not a readable zip: {e}")]) from e
    with open(path, "rb") as data:
        data.seek(start)
        directory = data.read()
    # As long as the stand-in is as long as the file, or long enough to pass the whole-archive ratio, the check's
    # verdict and message are the file's own.
    length = min(size, math.ceil(unpacked / limits.max_ratio) + 1, len(directory) + _MAX_PADDING)
    return bytes(max(0, length - len(directory))) + directory
