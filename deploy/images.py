"""Build every image and push it: `python -m deploy.images build --registry 127.0.0.1:PORT [--only NAME...]`.

Images: functions, model-runtime, portal, orthanc, and one per model version (`models`: the sample bundles and any
`--bundle DIR[=VERSION]`). Layers are cached under --work (default var/images) by the hash of their inputs, so a
second run only pushes. `registry-up` / `registry-down` start and stop a loopback docker-registry for development.
Exit status: 0 when every image was pushed and read back, 1 on an image or registry error, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from model_builder.images import recipes
from model_builder.images.errors import ImageError, RegistryError
from model_builder.images.local_registry import LoopbackRegistry
from model_builder.images.oci import Image
from model_builder.images.registry import Pushed, RegistryClient

log = logging.getLogger("deploy.images")
NAMES = ("functions", "model-runtime", "portal", "orthanc", "models")


@dataclass(frozen=True)
class BundleArg:
    """A model version to build: its unpacked bundle and version tag."""

    path: Path
    version: str = "1"

    @classmethod
    def parse(cls, text: str) -> BundleArg:
        path, _, version = text.partition("=")
        return cls(Path(path), version or "1")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.images", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the images and push them")
    build.add_argument("--registry", required=True, help="HOST:PORT of the OCI registry, e.g. 127.0.0.1:5000")
    build.add_argument("--only", nargs="+", choices=NAMES, metavar="NAME", help=f"only these of {', '.join(NAMES)}")
    build.add_argument("--bundle", action="append", type=BundleArg.parse, default=[], metavar="DIR[=VERSION]",
                       help="a validated, unpacked bundle to build as a model version (repeatable)")
    build.add_argument("--work", type=Path, default=recipes.REPO / "var" / "images", help="layer cache and layout")
    build.add_argument("--no-cache", action="store_true", help="rebuild every layer")
    for name, text in (("registry-up", "start a loopback registry (idempotent); prints its address"),
                       ("registry-down", "stop the loopback registry registry-up started")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--port", type=int, default=5000)
        sub.add_argument("--dir", type=Path, default=recipes.REPO / "var" / "registry")
    return parser.parse_args(argv)


def build_images(ctx: recipes.Context, only: Sequence[str] | None, bundles: Sequence[BundleArg]) -> Iterator[Image]:
    """The selected images, each built as soon as the one before is pushed (so progress shows as it goes)."""
    selected = set(only or NAMES)
    for name, recipe in recipes.IMAGES.items():
        if name in selected:
            print(f"building {name}", flush=True)
            yield recipe(ctx)
    if "models" in selected:
        for bundle in (*(BundleArg(p) for p in recipes.SAMPLE_BUNDLES), *bundles):
            print(f"building model version {bundle.path}={bundle.version}", flush=True)
            yield recipes.model_version_image(ctx, bundle.path, bundle.version)


def build_and_push(client: RegistryClient, ctx: recipes.Context, only: Sequence[str] | None = None,
                   bundles: Sequence[BundleArg] = ()) -> list[Pushed]:
    """Build, push and read back every selected image; bundles and the registry are checked first, so a wrong path
    or address fails fast."""
    for bundle in bundles:
        recipes.check_bundle(bundle.path)
    client.check()
    pushed = []
    started = time.perf_counter()
    for image in build_images(ctx, only, bundles):
        result = client.push(image, ctx.store)
        _, digest = client.manifest(image.name, image.tag)
        if digest != image.manifest.digest:
            raise RegistryError(client.registry, f"{image.reference} reads back as {digest}")
        size = sum(layer.size for layer in image.layers)
        print(f"pushed {result.reference} ({len(image.layers)} layers, {size / 1e6:.1f} MB; blobs {result.uploaded} "
              f"uploaded, {result.mounted} mounted, {result.skipped} present) at {time.perf_counter() - started:.1f} s",
              flush=True)
        pushed.append(result)
    return pushed


def _registry_up(port: int, root: Path) -> int:
    registry = LoopbackRegistry(root, port)
    if not registry.answering():
        registry.start()
    print(registry.address)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "registry-up":
            return _registry_up(args.port, args.dir)
        if args.command == "registry-down":
            LoopbackRegistry(args.dir, args.port).stop()
            return 0
        ctx = recipes.Context.at(args.work, use_cache=not args.no_cache)
        build_and_push(RegistryClient(args.registry), ctx, args.only, args.bundle)
    except ImageError as e:
        print(f"error: {e.detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
