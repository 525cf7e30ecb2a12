"""The plain-HTTP listener as its own process: `python -m mcc_local.redirect PORT HTTPS_ORIGIN` sends every
request to the same path on the HTTPS origin (the launcher runs it as the origin's unprivileged user)."""

from __future__ import annotations

import argparse
import signal
import sys

from werkzeug.serving import make_server

from mcc_local.origin import PathOnlyRequestLog, RedirectToHttps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mcc_local.redirect", description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("origin", help="the HTTPS origin, e.g. https://localhost:8443")
    args = parser.parse_args(argv)
    server = make_server("127.0.0.1", args.port, RedirectToHttps(args.origin), threaded=True,
                         request_handler=PathOnlyRequestLog)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
