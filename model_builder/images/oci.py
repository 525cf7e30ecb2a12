"""OCI image parts written directly in Python: deterministic tar+gzip layers, the image config, the manifest, and an
OCI image layout (content-addressed blobs) that caches layers by the hash of their inputs.

Reproducible by construction: entries sorted, every mtime 0, owners numeric (uid/gid given per entry, no names),
POSIX tar with no timestamps in extended headers, gzip with mtime 0 and no file name. The same inputs give the same
layer digest on any day, from any directory.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import stat
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

log = logging.getLogger(__name__)

MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER_FORMAT = 2  # part of every cache key: bump when the tar/gzip writing changes
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Entry:
    """One tar member: a file copied from `source` or holding `data`, a directory, or a symlink (`link`)."""

    path: str
    source: Path | None = None
    data: bytes | None = None
    mode: int = 0o644
    link: str | None = None
    directory: bool = False
    uid: int = 0
    gid: int = 0

    def key(self) -> list:
        """What decides this member's bytes, cheaply: a source file by size and mtime, data by its hash."""
        if self.source is not None:
            st = self.source.stat()
            content: object = [st.st_size, st.st_mtime_ns]
        elif self.data is not None:
            content = hashlib.sha256(self.data).hexdigest()
        else:
            content = self.link
        return [self.path, self.mode, self.uid, self.gid, self.directory, content]


def directory(path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    """A directory member (parents are added by the layer writer)."""
    return Entry(path=path, directory=True, mode=mode, uid=uid, gid=gid)


def text_file(path: str, text: str, mode: int = 0o644) -> Entry:
    """A small generated file (a config, /etc/passwd, a launcher script)."""
    return Entry(path=path, data=text.encode(), mode=mode)


def tree_entries(root: Path, prefix: str, *, skip: Callable[[str], bool] = lambda rel: False,
                 uid: int = 0, gid: int = 0) -> list[Entry]:
    """Every directory, file and symlink under `root`, placed under `prefix` in the image; modes normalised to
    0755/0644 (the host's umask and owner must not change the layer). `skip` gets paths relative to `root`."""
    entries: list[Entry] = []
    root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        dirnames[:] = sorted(d for d in dirnames if not skip(_join(rel_dir, d)))
        for name in dirnames:
            full = Path(dirpath) / name
            rel = _join(rel_dir, name)
            if full.is_symlink():
                entries.append(Entry(path=_join(prefix, rel), link=os.readlink(full), mode=0o777, uid=uid, gid=gid))
            else:
                entries.append(directory(_join(prefix, rel), uid=uid, gid=gid))
        for name in sorted(filenames):
            rel = _join(rel_dir, name)
            if skip(rel):
                continue
            full = Path(dirpath) / name
            st = full.lstat()
            if stat.S_ISLNK(st.st_mode):
                entries.append(Entry(path=_join(prefix, rel), link=os.readlink(full), mode=0o777, uid=uid, gid=gid))
            elif stat.S_ISREG(st.st_mode):
                mode = 0o755 if st.st_mode & 0o111 else 0o644
                entries.append(Entry(path=_join(prefix, rel), source=full, mode=mode, uid=uid, gid=gid))
    return entries


def _join(a: str, b: str) -> str:
    return str(PurePosixPath(a) / b).lstrip("/") if a not in ("", ".") else b


def _normalised(entries: Iterable[Entry]) -> list[Entry]:
    """Sorted members with every parent directory present once; two different files at one path is a bug."""
    by_path: dict[str, Entry] = {}
    for entry in entries:
        path = str(PurePosixPath("/", entry.path)).lstrip("/")
        if not path:
            continue
        entry = Entry(path, entry.source, entry.data, entry.mode, entry.link, entry.directory, entry.uid, entry.gid)
        previous = by_path.get(path)
        if previous is not None and not (previous.directory and entry.directory) and previous != entry:
            raise ValueError(f"layer: two different members at {path}")
        by_path.setdefault(path, entry)
        for parent in PurePosixPath(path).parents:
            if str(parent) != ".":
                by_path.setdefault(str(parent), directory(str(parent)))
    return [by_path[p] for p in sorted(by_path)]


def _tar_info(entry: Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.path + ("/" if entry.directory else ""))
    info.mtime = 0
    info.mode = entry.mode
    info.uid, info.gid = entry.uid, entry.gid
    info.uname = info.gname = ""
    if entry.directory:
        info.type = tarfile.DIRTYPE
    elif entry.link is not None:
        info.type, info.linkname = tarfile.SYMTYPE, entry.link
    elif entry.source is not None:
        info.size = entry.source.stat().st_size
    else:
        info.size = len(entry.data or b"")
    return info


class _Digesting(io.RawIOBase):
    """A write-only stream that hashes and counts what passes through to `target`."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.sha.update(data)
        self.size += len(data)
        self.target.write(data)
        return len(data)


def write_layer(entries: Iterable[Entry], out: BinaryIO, level: int = 6) -> tuple[str, int]:
    """Stream the layer as tar+gzip into `out`; returns (diff_id, uncompressed size). Streaming: a 700 MB torch
    layer never sits in memory."""
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=level, mtime=0) as gz:
        raw = _Digesting(gz)  # type: ignore[arg-type]
        tar = tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
        with tar:
            for entry in _normalised(entries):
                info = _tar_info(entry)
                if info.isfile():
                    with _content(entry) as content:
                        tar.addfile(info, content)
                else:
                    tar.addfile(info)
    return f"sha256:{raw.sha.hexdigest()}", raw.size


class _content:
    """The bytes of a file member, opened only while it is written."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.file: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        if self.entry.source is not None:
            self.file = open(self.entry.source, "rb")  # noqa: SIM115 - closed by __exit__
            return self.file
        return io.BytesIO(self.entry.data or b"")

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()


@dataclass(frozen=True)
class Blob:
    """A content-addressed blob: its digest, size and media type (an OCI descriptor)."""

    digest: str
    size: int
    media_type: str

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class Layer(Blob):
    """A layer blob with the digest of its uncompressed tar (the config's diff_id) and how long it took."""

    diff_id: str = ""
    uncompressed_size: int = 0
    name: str = ""
    seconds: float = 0.0


class LayoutStore:
    """An OCI image layout on disk (`oci-layout`, `blobs/sha256/…`, `index.json`) plus a cache of built layers keyed
    by their inputs, so tests, bench and the CLI build each layer once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.cache = root / "layer-cache"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.cache.mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def path(self, digest: str) -> Path:
        return self.blobs / digest.removeprefix("sha256:")

    def layer(self, name: str, entries: list[Entry], *, level: int = 6, use_cache: bool = True) -> Layer:
        """The layer for these entries: from the cache when the same inputs were built before, else written now."""
        key = hashlib.sha256(json.dumps([LAYER_FORMAT, level, [e.key() for e in entries]]).encode()).hexdigest()
        cached = self.cache / f"{key}.json"
        if use_cache and cached.is_file():
            layer = Layer(**json.loads(cached.read_text()))
            if self.path(layer.digest).is_file():
                return layer
        started = time.perf_counter()
        with tempfile.NamedTemporaryFile(dir=self.blobs, prefix=".tmp-", delete=False) as tmp:
            digesting = _Digesting(tmp)  # type: ignore[arg-type]
            diff_id, raw_size = write_layer(entries, digesting, level)  # type: ignore[arg-type]
        digest = f"sha256:{digesting.sha.hexdigest()}"
        os.replace(tmp.name, self.path(digest))
        os.chmod(self.path(digest), 0o644)
        layer = Layer(digest=digest, size=digesting.size, media_type=MEDIA_LAYER, diff_id=diff_id,
                      uncompressed_size=raw_size, name=name, seconds=round(time.perf_counter() - started, 2))
        _write_atomically(cached, json.dumps(layer.__dict__))
        log.info("layer %s built: %s, %d bytes in %.1f s", name, digest[:19], layer.size, layer.seconds)
        return layer

    def put_json(self, document: dict, media_type: str) -> tuple[Blob, bytes]:
        """Store a canonical JSON document (a config or a manifest) as a blob."""
        data = canonical_json(document)
        blob = Blob(f"sha256:{hashlib.sha256(data).hexdigest()}", len(data), media_type)
        if not self.path(blob.digest).is_file():
            _write_atomically(self.path(blob.digest), data)
        return blob, data

    def tag(self, reference: str, manifest: Blob) -> None:
        """Record `reference` → manifest in index.json, so the layout can be copied by skopeo/oras as it is."""
        index_path = self.root / "index.json"
        index = json.loads(index_path.read_text()) if index_path.is_file() else {"schemaVersion": 2, "manifests": []}
        kept = [m for m in index["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != reference]
        kept.append({**manifest.descriptor(), "annotations": {"org.opencontainers.image.ref.name": reference}})
        index["manifests"] = sorted(kept, key=lambda m: m["annotations"]["org.opencontainers.image.ref.name"])
        _write_atomically(index_path, json.dumps(index, indent=1))


def _write_atomically(path: Path, data: str | bytes) -> None:
    """Replace `path` whole: a CLI, a bench and a test session may share one layout."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def canonical_json(document: dict) -> bytes:
    """Sorted keys, no spaces: the same document always gives the same digest."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class RunConfig:
    """How a container of the image runs (the OCI config's `config` object)."""

    user: str
    entrypoint: list[str]
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    labels: dict[str, str] = field(default_factory=dict)
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Image:
    """A built image: its layers, config and manifest blobs (all in the layout store)."""

    name: str
    tag: str
    layers: tuple[Layer, ...]
    config: Blob
    manifest: Blob
    manifest_bytes: bytes

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.tag}"


def assemble(store: LayoutStore, name: str, tag: str, layers: Iterable[Layer], run: RunConfig) -> Image:
    """Write the config and manifest for these layers and record the image in the layout's index."""
    layers = tuple(layers)
    config_doc = {
        "created": "1970-01-01T00:00:00Z",  # fixed: the image digest depends only on its content
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": run.user,
            "Entrypoint": run.entrypoint,
            "Cmd": run.cmd,
            "Env": [f"{k}={v}" for k, v in sorted(run.env.items())],
            "WorkingDir": run.workdir,
            "Labels": run.labels,
            **({"ExposedPorts": {f"{p}/tcp": {} for p in run.ports}} if run.ports else {}),
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": f"mcc images: {layer.name}"}
                    for layer in layers],
    }
    config, _ = store.put_json(config_doc, MEDIA_CONFIG)
    manifest_doc = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
        "annotations": {k: v for k, v in run.labels.items() if k.startswith("org.opencontainers.image.")},
    }
    manifest, data = store.put_json(manifest_doc, MEDIA_MANIFEST)
    store.tag(f"{name}:{tag}", manifest)
    return Image(name, tag, layers, config, manifest, data)


def read_layer_members(path: Path) -> Iterator[tarfile.TarInfo]:
    """The members of a stored layer blob, in order (for checks and for unpacking a root file system)."""
    with tarfile.open(path, mode="r|gz") as tar:
        yield from tar


def unpack(store: LayoutStore, image: Image, destination: Path) -> None:
    """Extract the image's layers in order into `destination` (a root file system; whiteouts are not used here)."""
    for layer in image.layers:
        with tarfile.open(store.path(layer.digest), mode="r|gz") as tar:
            tar.extractall(destination, filter="tar")
