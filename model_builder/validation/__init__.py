"""Bundle validation before anything of a bundle runs: archive, manifest, static code checks, smoke-run verdicts.

Every problem comes back at once as a `Problem` (stage, file, line, column, message) for the editor; a bundle
with any problem becomes no version. See README.md in this folder for each check.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..archive import Limits
from ..manifest import Manifest
from .bundle import DEFAULT_LIMITS, Bundle, assemble, open_archive, unpack
from .problems import Problem, ValidationFailed
from .smoke import check_outputs, smoke_failure, synthetic_volume
from .static import Analysis, analyse_bundle, check_bundle


@dataclass(frozen=True)
class Checked:
    """A bundle that passed every check before running: its zip (and digest), unpacked root, manifest, and the
    DICOM keywords its tasks declare as inputs (sorted; the platform sends the model those attributes only)."""

    bundle: Bundle
    root: Path
    manifest: Manifest
    inputs: tuple[str, ...] = ()


def validate_static(bundle_root: Path) -> tuple[Manifest | None, list[Problem]]:
    """The manifest and every static problem of an unpacked bundle (nothing of it is imported or run)."""
    return check_bundle(Path(bundle_root))


def validate_files(files: Mapping[str, str | bytes], weights: Mapping[str, Path], *, workdir: Path,
                   limits: Limits = DEFAULT_LIMITS) -> Checked:
    """The editor's files and uploaded weights, assembled into a zip in `workdir`, unpacked and checked;
    ValidationFailed with every problem otherwise (and no zip left behind)."""
    bundle = assemble(files, weights, limits=limits, directory=Path(workdir))
    try:
        return _checked(bundle, Path(workdir))
    except BaseException:
        bundle.discard()
        raise


def validate_archive(path: Path, *, workdir: Path, limits: Limits = DEFAULT_LIMITS) -> Checked:
    """An uploaded zip, checked, unpacked under `workdir` and checked statically; ValidationFailed otherwise."""
    return _checked(open_archive(Path(path), limits=limits), Path(workdir))


def _checked(bundle: Bundle, workdir: Path) -> Checked:
    root = unpack(bundle, Path(tempfile.mkdtemp(prefix="bundle-", dir=workdir)))
    analysis = analyse_bundle(root)
    if analysis.problems or analysis.manifest is None:
        raise ValidationFailed(analysis.problems)
    return Checked(bundle=bundle, root=root, manifest=analysis.manifest, inputs=analysis.inputs)


__all__ = [
    "Analysis", "Bundle", "Checked", "Problem", "ValidationFailed", "analyse_bundle", "assemble", "check_bundle",
    "check_outputs", "open_archive", "smoke_failure", "synthetic_volume", "unpack", "validate_archive",
    "validate_files", "validate_static",
]
