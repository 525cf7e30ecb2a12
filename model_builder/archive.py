"""A bundle archive, checked before anything of it touches a disk: the first step of a bundle's validation.

A researcher's upload is untrusted. `check_archive` reads only the archive's directory (zip) or headers
(tar, gzip-compressed or not) and reports every problem at once, each naming its member: a path that
escapes the bundle (absolute, `..`, a drive, a backslash), a link, a device, FIFO or other special file,
a member too large, a total too large, a compression ratio of a decompression bomb, too many members, a
name twice. `extract` then writes the regular files of an archive that passed, never following anything
but its own names, re-counting bytes as they are written (a zip's declared sizes can lie).
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .errors import ModelBuilderError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What a bundle may hold; the defaults fit a model with weights of a few hundred MB."""

    max_total_bytes: int = 2 * 1024**3
    max_member_bytes: int = 1024**3
    max_members: int = 2000
    max_ratio: float = 100.0  # uncompressed / compressed, per member and overall
    max_path_length: int = 255


@dataclass(frozen=True)
class Member:
    """A regular file of the archive, by its normalised path."""

    path: str
    size: int
    compressed: int


class ArchiveError(ModelBuilderError, ValueError):
    """The archive is unsafe or unreadable; `problems` lists every (member, message) found ("" for the whole)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {member or '(archive)'}: {message}" for member, message in self.problems)
        super().__init__(f"the bundle archive has {len(self.problems)} problem(s):\n{lines}")


def check_archive(data: bytes | BinaryIO, limits: Limits = Limits()) -> list[Member]:
    """The archive's regular files, if every member is safe to extract; else ArchiveError with every problem."""
    raw = data if isinstance(data, bytes) else data.read()
    problems: list[tuple[str, str]] = []
    members: list[Member] = []
    seen: set[str] = set()
    entries = list(_entries(raw, problems))
    if len(entries) > limits.max_members:
        problems.append(("", f"{len(entries)} members; at most {limits.max_members}"))
    for name, kind, size, compressed in entries:
        path = _safe_path(name, limits, problems)
        if kind != "file":
            if kind != "dir":
                problems.append((name, f"a {kind}: a bundle holds regular files and folders only"))
            continue
        if path is None:
            continue
        if path.casefold() in seen:
            problems.append((name, "appears twice in the archive"))
        seen.add(path.casefold())
        if size > limits.max_member_bytes:
            problems.append((name, f"{size} bytes; at most {limits.max_member_bytes} per file"))
        if compressed and size / compressed > limits.max_ratio:
            problems.append((name, f"expands {size / compressed:.0f} times; at most {limits.max_ratio:.0f}"))
        members.append(Member(path, size, compressed))
    total = sum(m.size for m in members)
    if total > limits.max_total_bytes:
        problems.append(("", f"{total} bytes unpacked; at most {limits.max_total_bytes}"))
    if raw and total / len(raw) > limits.max_ratio:
        problems.append(("", f"expands {total / len(raw):.0f} times; at most {limits.max_ratio:.0f}"))
    if not members and not problems:
        problems.append(("", "holds no files"))
    if problems:
        raise ArchiveError(problems)
    return members


def extract(data: bytes, destination: Path, limits: Limits = Limits()) -> list[Member]:
    """Check the archive, then write its regular files under `destination` (an empty or new folder, 0700); on
    any failure, nothing of it stays there."""
    members = check_archive(data, limits)
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(destination.iterdir()):
        raise ArchiveError([("", f"{destination} is not empty")])
    try:
        _write_members(data, destination, limits)
    except (ArchiveError, zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        for child in destination.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        if isinstance(e, ArchiveError):
            raise
        raise ArchiveError([("", f"could not be unpacked: {e}")]) from e
    return members


def _write_members(data: bytes, destination: Path, limits: Limits) -> None:
    written = 0
    for path, source in _open_members(data):
        target = destination.joinpath(*PurePosixPath(path).parts)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out, source:
            size = 0
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                written += len(chunk)
                if size > limits.max_member_bytes or written > limits.max_total_bytes:
                    raise ArchiveError([(path, "holds more bytes than its header declared")])
                out.write(chunk)


def _entries(raw: bytes, problems: list[tuple[str, str]]) -> Iterator[tuple[str, str, int, int]]:
    """(name, kind, size, compressed size) of every member, from the zip directory or the tar headers."""
    if zipfile.is_zipfile(io.BytesIO(raw)):
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                for info in archive.infolist():
                    mode = info.external_attr >> 16  # Unix mode, when the archiver wrote one
                    kind = ("dir" if info.is_dir() else "link" if stat.S_ISLNK(mode)
                            else "file" if stat.S_IFMT(mode) in (0, stat.S_IFREG) else "special file")
                    yield info.filename, kind, info.file_size, info.compress_size
        except (zipfile.BadZipFile, OSError) as e:
            problems.append(("", f"not a readable zip: {e}"))
        return
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as archive:
            for info in archive:
                kind = ("file" if info.isreg() else "dir" if info.isdir() else "link" if info.issym() or info.islnk()
                        else "device" if info.ischr() or info.isblk() else "FIFO" if info.isfifo() else "special file")
                yield info.name, kind, info.size, 0
    except (tarfile.TarError, OSError, EOFError) as e:
        problems.append(("", f"neither a zip nor a readable tar archive: {e}"))


def _safe_path(name: str, limits: Limits, problems: list[tuple[str, str]]) -> str | None:
    """The member's path relative to the bundle, or None (with the problem noted) when it could leave it."""
    if "\\" in name or "\x00" in name or (len(name) > 1 and name[1] == ":"):
        problems.append((name, "a path with a backslash, NUL or drive letter"))
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        problems.append((name, "a path leaving the bundle (absolute or with ..)"))
        return None
    normal = "/".join(part for part in path.parts if part not in ("", "."))
    if not normal:
        return None
    if len(normal) > limits.max_path_length:
        problems.append((name, f"a path of {len(normal)} characters; at most {limits.max_path_length}"))
        return None
    return normal


def _open_members(raw: bytes) -> Iterator[tuple[str, BinaryIO]]:
    if zipfile.is_zipfile(io.BytesIO(raw)):
        archive = zipfile.ZipFile(io.BytesIO(raw))
        for info in archive.infolist():
            if not info.is_dir():
                yield _normal(info.filename), archive.open(info)
        return
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as archive:
        for info in archive:
            if info.isreg():
                yield _normal(info.name), archive.extractfile(info)


def _normal(name: str) -> str:
    return "/".join(part for part in PurePosixPath(name).parts if part not in ("", "."))
