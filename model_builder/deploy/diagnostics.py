"""Turning what an instance left behind (its exit, its stderr, the cgroup's counters) into a reason to show."""

from __future__ import annotations

import re
import signal
from pathlib import Path

from .interfaces import GiB, MiB

TAIL_LINES = 20
TAIL_BYTES = 16 * 1024
# An absolute path: after a start, space, quote, '(' or '='; up to a space, quote, comma, colon or bracket.
PATH = re.compile(r"(?<![\w.~-])/[^\s\"'(),:;\[\]<>]+")


def scrub(text: str, keep: str = "/bundle") -> str:
    """`text` with every absolute path outside `keep` cut to `…/basename` (the host's layout stays private)."""

    def replace(match: re.Match[str]) -> str:
        path = match.group(0)
        if path == keep or path.startswith(keep + "/"):
            return path
        return "…/" + path.rstrip("/").rsplit("/", 1)[-1]

    return PATH.sub(replace, text)


def tail(log: Path, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of an instance's stderr, scrubbed; empty when there is none."""
    try:
        with log.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - TAIL_BYTES))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return scrub("\n".join(text.strip().splitlines()[-lines:]))


def exit_reason(returncode: int | None) -> str:
    """'exit code N' or 'signal SIGXXX' from a Popen return code (bwrap reports a signal as 128 + N)."""
    if returncode is None:
        return "still running"
    number = -returncode if returncode < 0 else returncode - 128 if 128 < returncode < 160 else 0
    if number:
        try:
            return f"signal {signal.Signals(number).name}"
        except ValueError:
            return f"signal {number}"
    return f"exit code {returncode}"


def size(value: int) -> str:
    """A byte count as a person reads it: '4 GiB', '256 MiB'."""
    if value >= GiB and value % GiB == 0:
        return f"{value // GiB} GiB"
    if value >= GiB:
        return f"{value / GiB:.1f} GiB"
    return f"{value / MiB:.0f} MiB"


def with_tail(message: str, log: Path) -> str:
    """`message`, then the model's last stderr lines when it left any."""
    text = tail(log)
    return f"{message}; its last output:\n{text}" if text else message
