"""What the in-process origin logs and warns while a test drives it: the records of its request
threads, rendered as JSON lines like its own handler, and every Python warning raised meanwhile."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class _Keep(logging.Handler):
    """Keeps the records emitted while the origin handles requests (its threads, not the test's)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "process_request_thread" in record.threadName:
            self.records.append(record)


@contextmanager
def origin_output() -> Iterator[Callable[[], str]]:
    """While open, the origin's log lines at DEBUG level and the text of every warning, as one string."""
    from functions.common.platform.config import get_settings
    from functions.common.platform.logs import JsonFormatter, configure_logging

    configure_logging(get_settings().log_level)  # the origin's own set-up must not later replace our handler
    keep, root = _Keep(), logging.getLogger()
    level = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as raised:  # the filters in force stay as they are
            yield lambda: "\n".join([*(JsonFormatter().format(r) for r in keep.records),
                                     *(str(w.message) for w in raised)])
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
