"""The names an editor bundle's files may have: plain relative POSIX paths that mean the same on every system."""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_PATH_LENGTH = 200
_ALLOWED = re.compile(r"[A-Za-z0-9._/-]")


def path_problems(path: object) -> list[str]:
    """Every rule the file name breaks, as messages that say how to fix it (empty when the name is fine)."""
    if not isinstance(path, str):
        return [f"a file name must be text, got {type(path).__name__}"]
    if not path:
        return ["a file has an empty name"]
    found = []
    if "\x00" in path:
        found.append("the name contains a NUL character")
    if "\\" in path:
        found.append("the name contains a backslash: separate folders with /")
    if path.startswith("/"):
        found.append("the name is absolute: give the path from the bundle's root, e.g. models/model.pt")
    parts = path.split("/")
    if ".." in parts:
        found.append("the name contains '..': a bundle's files stay inside the bundle")
    elif not path.startswith("/") and any(part in ("", ".") for part in parts):
        found.append("the name has an empty or '.' folder (// , ./ or a trailing /): write it as a/b.py")
    if len(path) > MAX_PATH_LENGTH:
        found.append(f"the name is {len(path)} characters long; at most {MAX_PATH_LENGTH}")
    bad = sorted({c for c in path if not _ALLOWED.match(c)} - {"\x00", "\\"})
    if bad:
        found.append(f"the name contains {''.join(bad)!r}: use only letters, digits, '.', '_', '-' and '/'")
    return found


def clash_problems(paths: Iterable[str]) -> list[tuple[str, str]]:
    """(path, message) for names that collide: the same name ignoring case, or a name that is also a folder."""
    found = []
    names = sorted(paths)
    seen: dict[str, str] = {}
    for name in names:
        key = name.casefold()
        if key in seen:
            found.append((name, f"has the same name as {seen[key]} apart from upper/lower case"))
        seen.setdefault(key, name)
    folders = {"/".join(name.split("/")[:i]).casefold() for name in names for i in range(1, name.count("/") + 1)}
    found.extend((name, "is both a file and a folder") for name in names if name.casefold() in folders)
    return found
