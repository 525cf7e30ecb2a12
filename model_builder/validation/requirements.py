"""Pinned requirements against the runtime: nothing is installed at run time, so each pin must already hold."""

from __future__ import annotations

import re
from importlib import metadata

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>\S+)$")


def _release(version: str, *, keep_local: bool) -> tuple[str, ...]:
    """A version's comparable parts: lower case, no leading 'v', trailing zero parts dropped (1.5 == 1.5.0)."""
    version = version.strip().lower().removeprefix("v")
    if not keep_local:
        version = version.split("+", 1)[0]
    parts = re.split(r"[.]", version)
    while len(parts) > 1 and parts[-1] == "0":
        parts.pop()
    return tuple(parts)


def satisfies(pinned: str, installed: str) -> bool:
    """Whether an installed version meets `==pinned` (a local label like +cpu only counts when pinned)."""
    return _release(pinned, keep_local="+" in pinned) == _release(installed, keep_local="+" in pinned)


def requirement_problem(requirement: str) -> str | None:
    """Why the running interpreter does not satisfy `name==version`, or None when it does."""
    match = _PIN.match(requirement.strip())
    if match is None:
        return f"{requirement!r} is not pinned: write it as name==version"
    name, version = match.group("name"), match.group("version")
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        return (f"{name} is not installed in the model runtime, and nothing is installed at run time:"
                f" remove {requirement} or use a package the runtime has")
    if satisfies(version, installed):
        return None
    return (f"{requirement} is not what the model runtime has: {name} {installed} is installed and nothing is"
            f" installed at run time; pin {name}=={installed} and check the model with it")
