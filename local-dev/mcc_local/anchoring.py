"""Pin the audit log's head outside the database, now and every INTERVAL seconds, as its own process:
`python -m mcc_local.anchoring INTERVAL` (the launcher runs it as the functions' unprivileged user)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

log = logging.getLogger("mcc_local.anchoring")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mcc_local.anchoring", description=__doc__.splitlines()[0])
    parser.add_argument("interval", type=float, help="seconds between anchors")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from functions.common.platform import db
    from functions.common.security import audit_anchors

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    while True:
        try:
            with db.session_scope() as session:
                audit_anchors.anchor(session)
        except Exception:  # noqa: BLE001 - a missed anchor is retried next round; the platform goes on
            log.exception("anchoring the audit log failed")
        if stopping.wait(args.interval):
            return 0


if __name__ == "__main__":
    sys.exit(main())
