"""Train the sample heart U-Net on synthetic chest CTs and write its weights into the bundle (models/model.pt).

    python model_builder/samples/ct_heart_unet/train.py                    # the shipped weights (a few minutes)
    python model_builder/samples/ct_heart_unet/train.py --epochs 1 --cases 2 --size 32 --out /tmp/heart

The network, preprocessing and inferer are the bundle's own, read from configs/inference.json, so training
sees exactly what inference sees: each case is written as NIfTI and read by the bundle's `LoadImaged`, its
true mask is resampled onto the preprocessed grid. Reproducible: seeded, deterministic algorithms, a fixed
thread count. With --out elsewhere the configs, docs and licence are copied there: a complete bundle.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent
ROOT = BUNDLE.parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from monai.bundle import ConfigParser  # noqa: E402
from monai.data import MetaTensor  # noqa: E402
from monai.losses import DiceCELoss  # noqa: E402
from monai.transforms import ResampleToMatch  # noqa: E402
from monai.utils import set_determinism  # noqa: E402

from model_builder.monai_bundle import volume_affine, write_nifti  # noqa: E402
from model_builder.samples.synthetic_ct import Case, dice, phantom_case, training_case  # noqa: E402

STRUCTURE = "heart"
TRAINING_SEEDS = 1000  # case i of the training set is training_case(1000 + i)
VALIDATION_SEEDS = 5000  # and of the validation set training_case(5000 + i); tests use other seeds


def _case(seed: int, size: int | None) -> Case:
    """A training case; with `size`, a small one (size × size, size / 2 slices) for quick runs."""
    if size is None:
        return training_case(seed)
    return phantom_case(seed, slices=max(size // 2, 8), rows=size, columns=size, fov_mm=400.0, slice_thickness=5.0)


def _prepare(case: Case, preprocessing, folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The case through the bundle's preprocessing, and its true mask resampled onto that grid (nearest)."""
    path = write_nifti(case.volume, folder / "case.nii")
    image = preprocessing({"image": str(path)})["image"]
    truth = case.masks[STRUCTURE].transpose(2, 1, 0)[None].astype(np.float32)
    label = MetaTensor(torch.as_tensor(truth), affine=torch.as_tensor(volume_affine(case.volume)))
    label = ResampleToMatch(mode="nearest")(label, img_dst=image)
    return torch.as_tensor(image).float(), torch.as_tensor(label).round()


def _crop(image: torch.Tensor, label: torch.Tensor, patch: Sequence[int],
          rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A random patch of the case, padded with air (0 after scaling) where the case is smaller."""
    pads = [max(0, p - s) for p, s in zip(patch, image.shape[1:], strict=True)]
    padding = [v for pad in reversed(pads) for v in (pad // 2, pad - pad // 2)]
    image, label = torch.nn.functional.pad(image, padding), torch.nn.functional.pad(label, padding)
    starts = [int(rng.integers(0, s - p + 1)) for p, s in zip(patch, image.shape[1:], strict=True)]
    window = (slice(None),) + tuple(slice(s, s + p) for s, p in zip(starts, patch, strict=True))
    return image[window], label[window]


def train(*, epochs: int, cases: int, validation_cases: int, size: int | None, seed: int, threads: int,
          out: Path, batch_size: int = 2, learning_rate: float = 2e-3) -> dict[str, float]:
    """Train, validate and write out/models/model.pt; the figures of the run."""
    started = time.perf_counter()
    torch.set_num_threads(threads)
    set_determinism(seed=seed, use_deterministic_algorithms=True)
    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs" / "inference.json"))
    parser["bundle_root"] = str(out)
    network = parser.get_parsed_content("network_def")
    preprocessing = parser.get_parsed_content("preprocessing")
    inferer = parser.get_parsed_content("inferer")
    patch = list(parser["inferer"]["roi_size"])

    with tempfile.TemporaryDirectory(prefix="heart-train-") as folder:
        training = [_prepare(_case(TRAINING_SEEDS + i, size), preprocessing, Path(folder)) for i in range(cases)]
        validation = [_prepare(_case(VALIDATION_SEEDS + i, size), preprocessing, Path(folder))
                      for i in range(validation_cases)]
    prepared = time.perf_counter()

    loss_function = DiceCELoss(to_onehot_y=True, softmax=True)
    optimiser = torch.optim.Adam(network.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(epochs, 1))
    rng = np.random.default_rng(seed)
    loss = torch.zeros(())
    for epoch in range(epochs):
        network.train()
        order = rng.permutation(len(training))
        for start in range(0, len(order), batch_size):
            crops = [_crop(*training[i], patch, rng) for i in order[start:start + batch_size]]
            images, labels = torch.stack([c[0] for c in crops]), torch.stack([c[1] for c in crops])
            optimiser.zero_grad()
            loss = loss_function(network(images), labels)
            loss.backward()
            optimiser.step()
        schedule.step()
        print(f"epoch {epoch + 1}/{epochs} loss {loss.item():.4f}", flush=True)
    trained = time.perf_counter()

    network.eval()
    scores = []
    with torch.no_grad():
        for image, label in validation:
            found = inferer(image[None], network)[0].argmax(0).numpy()
            scores.append(dice(found == 1, label[0].numpy() == 1))
    weights = out / "models" / "model.pt"
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), weights)
    return {"validation_dice": float(np.mean(scores)) if scores else float("nan"),
            "preparation_seconds": prepared - started, "training_seconds": trained - prepared,
            "total_seconds": time.perf_counter() - started, "weights_bytes": float(weights.stat().st_size)}


def _complete_bundle(out: Path, mean_dice: float) -> None:
    """Copy the configs, docs and licence to `out` (if elsewhere) and record the validation Dice in the metadata."""
    if out.resolve() != BUNDLE:
        for name in ("configs", "docs"):
            shutil.copytree(BUNDLE / name, out / name, dirs_exist_ok=True)
        shutil.copy2(BUNDLE / "LICENSE", out / "LICENSE")
    metadata_path = out / "configs" / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata.setdefault("eval_metrics", {})["mean_dice"] = round(mean_dice, 4)
    metadata_path.write_text(json.dumps(metadata, indent=4) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Train the heart U-Net and say how well it does on the validation cases."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--cases", type=int, default=24, help="training cases")
    parser.add_argument("--validation-cases", type=int, default=4)
    parser.add_argument("--size", type=int, help="small cases of size × size pixels (default: varied, 128-256)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (fixed: results depend on it)")
    parser.add_argument("--out", type=Path, default=BUNDLE, help="bundle folder to write models/model.pt to")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = train(epochs=args.epochs, cases=args.cases, validation_cases=args.validation_cases, size=args.size,
                    seed=args.seed, threads=args.threads, out=args.out)
    _complete_bundle(args.out, figures["validation_dice"])
    print(f"validation Dice {figures['validation_dice']:.4f}; preparation {figures['preparation_seconds']:.1f} s,"
          f" training {figures['training_seconds']:.1f} s, total {figures['total_seconds']:.1f} s;"
          f" weights {figures['weights_bytes'] / 1024:.0f} KiB in {args.out / 'models' / 'model.pt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
