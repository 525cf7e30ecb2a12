"""The platform's DICOM archive: Orthanc whose storage area encrypts every file at rest."""

from __future__ import annotations

from pathlib import Path

from .orthanc import OrthancServer
from .procs import ProcessGroup
from .users import RunAs

STORAGE_PLUGIN = Path(__file__).resolve().parents[2] / "orthanc" / "encrypted_storage.py"


def encrypted_orthanc(
    directory: Path, *, port: int, key_dir: Path, processes: ProcessGroup | None = None, run_as: RunAs | None = None
) -> OrthancServer:
    """Orthanc in `directory` storing DICOM files only as files sealed with the KEKs of `key_dir` (Orthanc's own:
    as `run_as`, it creates its KEK there on first start, and no other process of the platform may read it)."""
    directory = Path(directory).absolute()
    # Orthanc keeps its index under data/ and still creates StorageDirectory, but with a
    # storage-area plugin registered it writes no attachment there.
    return OrthancServer(
        directory,
        port=port,
        python_script=STORAGE_PLUGIN,
        processes=processes,
        run_as=run_as,
        private_dirs=[key_dir],
        extra_config={
            "MedCloudCare": {
                "KeyDir": str(Path(key_dir).absolute()),
                "EncryptedStorageDirectory": str(directory / "data" / "encrypted"),
            }
        },
    )
