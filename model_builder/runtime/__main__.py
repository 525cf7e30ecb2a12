"""`python -m model_builder.runtime --bundle DIR (--unix PATH | --port N)`: load the model, then serve V2.

The socket (or port) appears only once the model is loaded, so its appearance means "ready".
Exit status: 0 after SIGTERM/SIGINT, 2 for bad arguments, 3 if the bundle cannot be loaded or the socket bound.
"""

import sys

sys.dont_write_bytecode = True  # the bundle and the Python install are read-only in the sandbox

import argparse  # noqa: E402 - after the bytecode switch, on purpose
import logging  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

from .errors import RuntimeLoadError  # noqa: E402
from .loader import load_application  # noqa: E402
from .server import MAX_REQUEST_BYTES, ModelServer, UnixModelServer  # noqa: E402
from .service import ModelService  # noqa: E402

log = logging.getLogger("model_builder.runtime")
EXIT_LOAD = 3
GRACE_SECONDS = 30.0  # how long SIGTERM waits for requests in progress


class _Stop(BaseException):
    """Raised by the SIGTERM/SIGINT handler to leave `serve_forever` (a BaseException: no `except Exception` eats it)."""


class _Stopper:
    """The SIGTERM/SIGINT handler: records the signal, and raises `_Stop` only once the server is in hand.

    Until `armed`, raising could interrupt the server's construction and leave its socket behind (blocking the
    signal would not help: numpy's threads may receive it and the handler still runs in the main thread).
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self.armed = False

    def __call__(self, signum: int, frame: object) -> None:
        self.received = signal.Signals(signum).name
        if self.armed:
            raise _Stop(self.received)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m model_builder.runtime", description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", required=True, help="the unpacked bundle directory (manifest.json at its root)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--unix", metavar="PATH", help="serve on this Unix socket")
    where.add_argument("--port", type=int, metavar="N", help="serve on this TCP port (of --host)")
    parser.add_argument("--host", default="127.0.0.1", help="the address to bind with --port (default 127.0.0.1)")
    parser.add_argument("--name", help="the model's name in URLs (default: the manifest's name as a slug)")
    parser.add_argument("--version", default="1", help="the model version served (default 1)")
    parser.add_argument("--max-request-bytes", type=int, default=MAX_REQUEST_BYTES,
                        help="refuse bigger infer requests with 413 (default 2 GiB)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)


def slug(name: str) -> str:
    """A URL-safe model name from a manifest's name: "CT body mask" → "ct-body-mask"."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "model"


def _server(args: argparse.Namespace, service: ModelService) -> ModelServer | UnixModelServer:
    if args.unix:
        return UnixModelServer(args.unix, service, max_request_bytes=args.max_request_bytes)
    return ModelServer((args.host, args.port), service, max_request_bytes=args.max_request_bytes)


def main(argv: list[str] | None = None) -> int:
    """Load, bind, serve until SIGTERM; the process's exit status."""
    started = time.perf_counter()
    args = _arguments(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        model = load_application(args.bundle)
    except RuntimeLoadError as e:
        sys.stderr.write(f"model runtime: cannot load the bundle: {e}\n")
        return EXIT_LOAD
    service = ModelService(model, name=args.name or slug(model.manifest.name), version=args.version)
    stopper = _Stopper()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, stopper)
    try:
        server = _server(args, service)
    except (OSError, ValueError) as e:
        sys.stderr.write(f"model runtime: cannot listen on {args.unix or f'{args.host}:{args.port}'}: {e}\n")
        return EXIT_LOAD
    try:
        log.info("serving model %s version %s on %s, ready %.3f s after start", service.name, service.version,
                 server.server_address, time.perf_counter() - started)
        stopper.armed = True
        if stopper.received is None:
            server.serve_forever()
    except _Stop:
        pass
    finally:
        stopper.armed = False
        log.info("stopping on %s", stopper.received or "an error")
        server.server_close()  # stop accepting; a Unix socket's file goes now
        if not server.drain(GRACE_SECONDS):  # let requests in progress answer
            log.warning("stopped with a request unanswered after %.0f s", GRACE_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
