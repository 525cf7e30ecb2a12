"""A distroless-style base from Debian packages: resolve a dependency closure with apt-cache, `apt-get download` the
.debs (the Debian mirror is the one registry a build may reach), unpack them with `dpkg-deb -x` and keep no package
manager, shell, compiler or documentation. No maintainer script runs: what a package's postinst would create (users,
caches) the recipe writes itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from .errors import DebianError
from .oci import Entry, tree_entries

log = logging.getLogger(__name__)

# Never in an image: package managers, maintainer-script machinery, shells and init plumbing (and what they pull).
EXCLUDED = frozenset({
    "dpkg", "apt", "debconf", "debconf-2.0", "cdebconf", "perl-base", "perl", "adduser", "passwd", "login",
    "lsb-base", "sysvinit-utils", "init-system-helpers", "install-info", "ucf", "debianutils", "bash", "dash",
    "coreutils", "sensible-utils", "locales", "dcmtk", "python3-pip", "python3-setuptools", "gcc", "cpp",
    "libc-bin", "mount", "util-linux",
})
# Paths dropped from every unpacked package: documentation, and what only matters to dpkg or to a shell user.
_SKIPPED_PREFIXES = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/locale",
                     "usr/share/bug", "usr/share/menu", "etc/init.d", "etc/logrotate.d", "etc/cron.daily",
                     "usr/lib/systemd", "lib/systemd", "etc/systemd", "etc/default")
_APT_STATE = ("/var/lib/apt/lists", "/var/cache/apt/pkgcache.bin", "/etc/apt/sources.list", "/etc/apt/sources.list.d")
_DEP_LINE = re.compile(r"^ ([ |])(PreDepends|Depends): (.+)$")


def resolve(packages: Iterable[str], excluded: frozenset[str] = EXCLUDED) -> list[str]:
    """The dependency closure of `packages` (Depends and PreDepends, first usable alternative), minus `excluded`."""
    wanted = sorted(set(packages))
    seen: set[str] = set()
    todo = [p for p in wanted if p not in excluded]
    while todo:
        batch = sorted(set(todo) - seen)
        todo = []
        if not batch:
            break
        seen.update(batch)
        for deps in _depends(batch).values():
            todo.extend(d for d in deps if d not in seen)
    return sorted(seen)


def _depends(packages: list[str], excluded: frozenset[str] = EXCLUDED) -> dict[str, list[str]]:
    """`apt-cache depends` of a batch, reduced to one chosen package per dependency (alternatives, virtuals)."""
    out = _run(["apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
                "--no-replaces", "--no-enhances", *packages])
    chosen: dict[str, list[str]] = {}
    current = ""
    group: list[list[str]] = []  # alternatives of the dependency being read; each: [name, providers...]
    for line in out.splitlines():
        if not line.startswith(" "):
            _close(chosen, current, group, excluded)
            current, group = line.strip(), []
            chosen.setdefault(current, [])
            continue
        if line.startswith("    ") and group:  # a provider of the virtual package just named
            group[-1].append(line.strip())
            continue
        match = _DEP_LINE.match(line)
        if not match:
            continue
        if group and not group[-1][0].startswith("|"):
            _close(chosen, current, group, excluded)
            group = []
        group.append([("|" if match.group(1) == "|" else "") + match.group(3).replace(":any", "")])
    _close(chosen, current, group, excluded)
    return chosen


def _close(chosen: dict[str, list[str]], current: str, group: list[list[str]], excluded: frozenset[str]) -> None:
    """Pick the first installable, allowed package of an alternatives group."""
    for alternative in group:
        name = alternative[0].lstrip("|")
        candidates = alternative[1:] if name.startswith("<") else [name]
        for candidate in candidates:
            if candidate not in excluded and name.strip("<>") not in excluded:
                chosen[current].append(candidate)
                return


def pinned_closure(packages: Iterable[str], work: Path) -> dict[str, str]:
    """The closure of `packages` with the candidate version of each, remembered until apt's lists change (resolving
    asks apt-cache a few times: seconds a rebuild of a model image should not pay)."""
    wanted = sorted(set(packages))
    state = [Path(p).stat().st_mtime_ns for p in _APT_STATE if Path(p).exists()]
    key = hashlib.sha256(json.dumps([wanted, sorted(EXCLUDED), state]).encode()).hexdigest()[:24]
    remembered = work / "resolved" / f"{key}.json"
    if remembered.is_file():
        return dict(json.loads(remembered.read_text()))
    names = resolve(wanted)
    pinned = _candidate_versions(names)
    remembered.parent.mkdir(parents=True, exist_ok=True)
    remembered.write_text(json.dumps(pinned, indent=1, sort_keys=True))
    return pinned


def download(pinned: dict[str, str], cache: Path) -> list[Path]:
    """The .deb files of these package versions, fetched once into `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    missing = []
    for name, version in sorted(pinned.items()):
        found = sorted(cache.glob(f"{name}_{_deb_version(version)}_*.deb"))
        if found:
            paths.append(found[0])
        else:
            missing.append(f"{name}={version}")
    if missing:
        log.info("downloading %d Debian packages", len(missing))
        _run(["apt-get", "download", "-q", *missing], cwd=cache)
        return download(pinned, cache)
    return paths


def _deb_version(version: str) -> str:
    """A version as apt-get download spells it in file names (the epoch's colon becomes %3a)."""
    return version.replace(":", "%3a")


def _candidate_versions(packages: list[str]) -> dict[str, str]:
    out = _run(["apt-cache", "policy", *packages])
    versions: dict[str, str] = {}
    current = ""
    for line in out.splitlines():
        if not line.startswith(" ") and line.endswith(":"):
            current = line[:-1]
        elif line.strip().startswith("Candidate:") and current:
            versions[current] = line.split(":", 1)[1].strip()
    unknown = [p for p in packages if versions.get(p) in (None, "(none)")]
    if unknown:
        raise DebianError(f"apt knows no installable version of {', '.join(unknown)}; run apt-get update")
    return versions


def unpack(debs: list[Path], staging_root: Path) -> Path:
    """Unpack the .debs into a directory named for their set (reused when it exists), without docs."""
    key = hashlib.sha256("\n".join(sorted(d.name for d in debs)).encode()).hexdigest()[:16]
    target = staging_root / key
    if (target / ".complete").is_file():
        return target
    staging = staging_root / f".{key}.{os.getpid()}"  # unpacked aside, then renamed: builds may run side by side
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for deb in debs:
        _run(["dpkg-deb", "-x", str(deb), str(staging)])
    for prefix in _SKIPPED_PREFIXES:
        shutil.rmtree(staging / prefix, ignore_errors=True)
    (staging / ".complete").write_text("\n".join(sorted(d.name for d in debs)) + "\n")
    if (target / ".complete").is_file():  # another build finished the same set meanwhile
        shutil.rmtree(staging, ignore_errors=True)
        return target
    shutil.rmtree(target, ignore_errors=True)  # an interrupted unpack of an older version of this module
    try:
        os.rename(staging, target)
    except OSError:  # another build finished the same set first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def base_entries(packages: Iterable[str], work: Path) -> tuple[list[Entry], list[str]]:
    """Layer entries of the unpacked closure of `packages`, and the .deb file names it came from."""
    debs = download(pinned_closure(packages, work), work / "debs")
    root = unpack(debs, work / "rootfs")
    return tree_entries(root, "", skip=lambda rel: rel == ".complete"), [d.name for d in debs]


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True, timeout=600)
    except FileNotFoundError as e:
        raise DebianError(f"{argv[0]} is not installed: the Debian base needs apt and dpkg-deb on the build host"
                          ) from e
    except subprocess.CalledProcessError as e:
        raise DebianError(f"{' '.join(argv[:3])} failed: {e.stderr.strip()[-400:]}") from e
    return done.stdout
