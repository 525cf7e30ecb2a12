"""Benchmark of the OCI images: bundle layer vs bundle size, model image build time (cold and on a cached runtime
base), push time to a loopback registry, and the size of every image and of its layers.

Run: .venv/bin/python bench/images_bench.py [--weights-mb 64] [--level 6]
Prints figures; asserts nothing (tests/images does). Target: each bundle layer <= its bundle + 1 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local-dev")]

from model_builder.images import recipes  # noqa: E402
from model_builder.images.oci import Image, Layer  # noqa: E402
from model_builder.images.registry import RegistryClient  # noqa: E402
from tests.support.oci_registry import loopback_registry  # noqa: E402

SAMPLES = ROOT / "model_builder" / "samples"
MB = 1024 * 1024


def _bundles(scratch: Path, weights_mb: int) -> dict[str, Path]:
    """The sample bundle as it is, with the U-Net sample's real weights, and with incompressible weights."""
    plain = SAMPLES / "ct_bone"
    with_unet = shutil.copytree(plain, scratch / "with-unet-weights")
    shutil.copy(SAMPLES / "ct_heart_unet" / "models" / "model.pt", with_unet / "model.pt")
    big = shutil.copytree(plain, scratch / f"with-{weights_mb}mb-random")
    (big / "weights.bin").write_bytes(os.urandom(weights_mb * MB))
    return {"ct_bone sample": plain, "+ U-Net weights (1.2 MB)": with_unet, f"+ {weights_mb} MB random": big}


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _timed(call):  # noqa: ANN001, ANN202 - a tiny local helper
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def bundle_layers(scratch: Path, weights_mb: int) -> None:
    print("bundle layer vs bundle (target: layer <= bundle + 1 MB)")
    print(f"  {'bundle':28} {'bundle B':>12} {'layer B':>12} {'layer-bundle':>13} {'ratio':>7} {'build s':>8}")
    for name, bundle in _bundles(scratch, weights_mb).items():
        ctx = recipes.Context.at(scratch / f"work-{len(name)}", use_cache=False)
        layer, seconds = _timed(lambda b=bundle, c=ctx: recipes.bundle_layer(c, b))
        size = _size(bundle)
        verdict = "ok" if layer.size <= size + MB else "OVER"
        print(f"  {name:28} {size:12,} {layer.size:12,} {layer.size - size:13,} {layer.size / size:7.3f} "
              f"{seconds:8.3f} {verdict}")


def model_build_times(scratch: Path) -> Image:
    print("model version image build")
    cold_ctx = recipes.Context.at(scratch / "cold", use_cache=False)
    image, cold = _timed(lambda: recipes.model_version_image(cold_ctx, SAMPLES / "ct_bone", "1"))
    for layer in image.layers:
        print(f"  cold layer {layer.name:28} {layer.size / MB:9.1f} MB gz {layer.uncompressed_size / MB:9.1f} MB tar "
              f"{layer.seconds:6.2f} s")
    print(f"  cold (runtime base + bundle, nothing cached): {cold:.1f} s")
    warm_ctx = recipes.Context.at(scratch / "cold")  # the base cached, as on a platform that built it once
    bundle = shutil.copytree(SAMPLES / "ct_bone", scratch / "v2")
    (bundle / "app.py").write_text((bundle / "app.py").read_text() + "\n# version 2\n")
    image2, warm = _timed(lambda: recipes.model_version_image(warm_ctx, bundle, "2"))
    print(f"  a new version on the cached runtime base: {warm * 1000:.0f} ms")
    return image2


def push_times(ctx: recipes.Context, model: Image) -> None:
    print("push to a loopback docker-registry")
    with loopback_registry() as registry:
        client = RegistryClient(registry.address)
        base = recipes.model_runtime_image(ctx)
        pushed, seconds = _timed(lambda: client.push(base, ctx.store))
        print(f"  runtime base {sum(x.size for x in base.layers) / MB:.1f} MB: {seconds:.1f} s "
              f"({pushed.uploaded} blobs uploaded)")
        pushed, seconds = _timed(lambda: client.push(model, ctx.store))
        print(f"  a model version after its base: {seconds * 1000:.0f} ms ({pushed.uploaded} uploaded, "
              f"{pushed.mounted} mounted)")


def image_sizes(ctx: recipes.Context) -> None:
    print("images (compressed = what a registry stores and a node pulls)")
    for recipe in recipes.IMAGES.values():
        image = recipe(ctx)
        layers: tuple[Layer, ...] = image.layers
        print(f"  {image.reference:28} {sum(x.size for x in layers) / MB:8.1f} MB gz "
              f"{sum(x.uncompressed_size for x in layers) / MB:8.1f} MB unpacked")
        for layer in layers:
            print(f"      {layer.name:28} {layer.size / MB:8.1f} MB gz {layer.uncompressed_size / MB:8.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights-mb", type=int, default=64, help="size of the incompressible weights bundle")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcc-images-bench-") as tmp:
        scratch = Path(tmp)
        bundle_layers(scratch, args.weights_mb)
        model = model_build_times(scratch)
        ctx = recipes.Context.at(scratch / "cold")
        push_times(ctx, model)
        image_sizes(recipes.Context.at(ROOT / "var" / "images"))


if __name__ == "__main__":
    main()
