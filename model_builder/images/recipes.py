"""What goes into each image: the functions, the model runtime base, one image per model version, the portal with
OHIF, and the Orthanc archive. Shared layers (the Debian Python, the users, the Python packages) are built once and
stored once: the registry holds each blob a single time however many images name it.

Layout inside every Python image: Debian's /usr/bin/python3.11, packages in /opt/mcc/site-packages (copied from the
build venv's installed distributions by their RECORD, without bytecode), the platform's code under /app, the user
65532 (mcc) who owns nothing in the image. Only /tmp is written to: the root file system can be mounted read-only.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement

from . import debs
from .errors import MissingInput
from .oci import Entry, Image, Layer, LayoutStore, RunConfig, assemble, directory, text_file, tree_entries

REPO = Path(__file__).resolve().parents[2]
APP_UID = 65532
SITE = "opt/mcc/site-packages"
BUNDLE_DIR = "/opt/mcc/bundle"
PORT = 8080
VENDOR = "MedCloudCare"
VERSION = "0.1.0"

PYTHON_DEBS = ("python3.11-minimal", "libpython3.11-stdlib", "libstdc++6")  # C++ wheels: numpy 2, torch
ORTHANC_DEBS = ("orthanc", "orthanc-dicomweb", "orthanc-python", "orthanc-postgresql", "python3-cryptography",
                "python3-boto3", "python3-google-auth")
# The storage plugin and what it imports from the repository (it puts its folder's parent on sys.path).
ORTHANC_PLUGIN_FILES = ("orthanc/encrypted_storage.py", "orthanc/storage_backends.py", "functions/__init__.py",
                        "functions/common/__init__.py", "functions/common/security/__init__.py",
                        "functions/common/security/keys.py", "functions/common/security/kms.py")
ORTHANC_PLUGIN_ROOT = "opt/mcc"
ORTHANC_VOLUME = "/var/lib/orthanc"
ORTHANC_ENTRYPOINT = "/opt/mcc/orthanc-entrypoint.py"
ORTHANC_PLUGINS = ("OrthancDicomWeb", "OrthancPython", "OrthancPostgreSQLIndex")
# The functions' imports (functions/*): requirements.txt minus models, cloud deployment and tests.
FUNCTION_PACKAGES = ("functions-framework", "Flask", "Werkzeug", "gunicorn", "SQLAlchemy", "alembic", "psycopg2-binary",
                     "pydantic", "pydantic-settings", "Authlib", "joserfc", "requests", "pyotp", "argon2-cffi",
                     "cryptography", "zxcvbn", "qrcode", "user-agents", "jsonschema", "boto3", "pydicom", "highdicom",
                     "numpy", "pylibjpeg", "pylibjpeg-openjpeg", "pyjpegls", "python-multipart", "pillow", "brotli",
                     "av", "google-auth", "PyYAML", "setuptools", "kubernetes", "pyseccomp", "packaging")
# (tests/images imports every function's entry module in the image: a new import without its package fails there.)
# What a bundle may import in its image: the SDK's numpy, scipy, torch and MONAI and their readers.
RUNTIME_PACKAGES = ("numpy", "scipy", "torch", "monai", "nibabel", "pytorch-ignite", "pydicom", "highdicom", "pillow")
# Never installed: package managers everywhere; in model images also setuptools (torch names it for
# torch.utils.cpp_extension only, which compiles C++: no model image compiles anything).
NEVER = frozenset({"pip"})
NOT_IN_MODELS = NEVER | {"setuptools", "wheel"}
# torch's C++ headers, CMake files, test binaries and protoc: for building extensions, never for running a model
# (torch/bin/torch_shm_manager stays: `import torch` checks it is there).
_TORCH_BUILD_ONLY = ("torch/include/", "torch/share/", "torch/test/", "torch/lib/libprotoc", "torch/bin/protoc",
                     "torch/bin/test_", "torch/bin/FileStoreTest", "torch/bin/HashStoreTest", "torch/bin/TCPStoreTest")
_SDK_PARTS = ("*.py", "runtime/*.py", "validation/*.py", "schema/*.json", "templates/*/*.py", "templates/*/*.json")
PY_ENV = {"PYTHONPATH": f"/app:/{SITE}", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "HOME": "/tmp",
          "TMPDIR": "/tmp", "PATH": "/usr/local/bin:/usr/bin:/bin"}

_FUNCTIONS_LAUNCHER = '''#!/usr/bin/python3.11
"""functions-framework as on Cloud Run: `--target=NAME` (or FUNCTION_TARGET) alone serves functions/NAME/main.py."""
import os
import sys

from functions_framework._cli import _cli

args = sys.argv[1:]
target = next((a.split("=", 1)[1] for a in args if a.startswith("--target=")), os.environ.get("FUNCTION_TARGET"))
if target and not any(a.startswith("--source") for a in args) and "FUNCTION_SOURCE" not in os.environ:
    args.append(f"--source=/app/functions/{target}/main.py")
sys.exit(_cli(args))
'''


@dataclass(frozen=True)
class Context:
    """Where layers are stored and how they are built (the cache is keyed by inputs, so reuse is always safe)."""

    store: LayoutStore
    work: Path
    repo: Path = REPO
    use_cache: bool = True

    @classmethod
    def at(cls, work: Path, repo: Path = REPO, use_cache: bool = True) -> Context:
        return cls(LayoutStore(work / "layout"), work, repo, use_cache)

    def layer(self, name: str, entries: list[Entry], level: int = 6) -> Layer:
        return self.store.layer(name, entries, level=level, use_cache=self.use_cache)


def _labels(title: str, description: str, version: str = VERSION) -> dict[str, str]:
    return {"org.opencontainers.image.title": title, "org.opencontainers.image.description": description,
            "org.opencontainers.image.version": version, "org.opencontainers.image.vendor": VENDOR}


# Layers shared by image families ------------------------------------------------------------------------------------

def debian_layer(ctx: Context, name: str, packages: Iterable[str]) -> Layer:
    """The unpacked Debian closure of `packages` as one layer."""
    entries, _ = debs.base_entries(packages, ctx.work / "debian")
    return ctx.layer(name, entries)


def users_layer(ctx: Context) -> Layer:
    """The image user (numeric 65532, no shell, no home but /tmp) and a world-writable, sticky /tmp."""
    passwd = f"root:x:0:0:root:/root:/sbin/nologin\nmcc:x:{APP_UID}:{APP_UID}:mcc:/tmp:/sbin/nologin\n"
    group = f"root:x:0:\nmcc:x:{APP_UID}:\n"
    return ctx.layer("users", [text_file("etc/passwd", passwd), text_file("etc/group", group),
                               directory("tmp", mode=0o1777), directory("app"),
                               directory("proc", mode=0o555), directory("dev"), directory("sys", mode=0o555)])


def distributions(roots: Iterable[str], excluded: frozenset[str]) -> list[metadata.Distribution]:
    """The installed closure of `roots` in this interpreter (Requires-Dist without extras), minus `excluded`."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = _canonical(todo.pop())
        if name in found or name in excluded:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as e:
            raise MissingInput("package", name, "install the pinned requirements (scripts/install)") from e
        found[name] = dist
        for spec in dist.requires or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return [found[k] for k in sorted(found)]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_entries(dists: Iterable[metadata.Distribution],
                    skip: Callable[[str], bool] = lambda p: False) -> list[Entry]:
    """Each distribution's files as its RECORD lists them, under /opt/mcc/site-packages; no bytecode, no scripts
    (their shebangs name the build venv; images get their own launchers)."""
    entries = []
    for dist in dists:
        for file in dist.files or []:
            rel = PurePosixPath(str(file))
            if ".." in rel.parts or "__pycache__" in rel.parts or rel.suffix == ".pyc" or skip(str(rel)):
                continue
            source = Path(str(dist.locate_file(file)))
            if source.is_file():
                mode = 0o755 if source.stat().st_mode & 0o111 else 0o644
                entries.append(Entry(path=f"{SITE}/{rel}", source=source, mode=mode))
    return entries


def _no_bytecode(rel: str) -> bool:
    return "__pycache__" in rel.split("/") or rel.endswith(".pyc")


def python_layers(ctx: Context) -> list[Layer]:
    """Debian's Python 3.11 and the users: the base of every Python image."""
    return [debian_layer(ctx, "debian-python3.11", PYTHON_DEBS), users_layer(ctx)]


def functions_layers(ctx: Context) -> list[Layer]:
    """Python, the functions' packages and code: the functions image, and the base of the portal's."""
    packages = ctx.layer("python-packages-functions", package_entries(distributions(FUNCTION_PACKAGES, NEVER)))
    return [*python_layers(ctx), packages, ctx.layer("functions-code", functions_code_entries(ctx))]


def functions_code_entries(ctx: Context) -> list[Entry]:
    """The functions' source (with migrations and API contracts), the model builder they validate and deploy with
    (without its samples, test helpers and this image builder), and the functions-framework launcher."""
    skip = lambda rel: _no_bytecode(rel) or rel.startswith("tests/")  # noqa: E731
    skip_builder = lambda rel: _no_bytecode(rel) or rel.split("/")[0] in ("samples", "testing", "images")  # noqa: E731
    return [*tree_entries(ctx.repo / "functions", "app/functions", skip=skip),
            *tree_entries(ctx.repo / "model_builder", "app/model_builder", skip=skip_builder),
            text_file("usr/local/bin/functions-framework", _FUNCTIONS_LAUNCHER, mode=0o755)]


# The images ---------------------------------------------------------------------------------------------------------

def functions_image(ctx: Context, tag: str = "latest") -> Image:
    """Every function in one image; the function is chosen at run time by `--target=NAME` (default auth)."""
    layers = functions_layers(ctx)
    run = RunConfig(user=f"{APP_UID}:{APP_UID}", entrypoint=["/usr/local/bin/functions-framework"],
                    cmd=["--target=auth"], env={**PY_ENV, "PORT": str(PORT)}, workdir="/app",
                    labels=_labels("mcc-functions", "MedCloudCare HTTP functions (functions-framework)"), ports=(PORT,))
    return assemble(ctx.store, "mcc/functions", tag, layers, run)


def runtime_layers(ctx: Context) -> list[Layer]:
    """The model runtime base: Python, the runtime's packages (no pip, no setuptools, no torch build files), the SDK."""
    dists = distributions(RUNTIME_PACKAGES, NOT_IN_MODELS)
    packages = package_entries(dists, skip=lambda rel: rel.startswith(_TORCH_BUILD_ONLY))
    sdk_root = ctx.repo / "model_builder"
    sdk = [Entry(path=f"app/model_builder/{p.relative_to(sdk_root).as_posix()}", source=p)
           for pattern in _SDK_PARTS for p in sorted(sdk_root.glob(pattern)) if p.is_file()]
    return [*python_layers(ctx), ctx.layer("python-packages-runtime", packages, level=1),
            ctx.layer("model-runtime", sdk)]


def _runtime_run(name: str, version: str, labels: dict[str, str]) -> RunConfig:
    return RunConfig(user=f"{APP_UID}:{APP_UID}", entrypoint=["/usr/bin/python3.11", "-m", "model_builder.runtime"],
                     cmd=["--bundle", BUNDLE_DIR, "--host", "0.0.0.0", "--port", str(PORT), "--name", name,
                          "--version", version],
                     env=PY_ENV, workdir="/tmp", labels=labels, ports=(PORT,))


def model_runtime_image(ctx: Context, tag: str = "latest") -> Image:
    """The base every model version image extends; alone it serves the bundle mounted at /opt/mcc/bundle."""
    run = _runtime_run("model", "1", _labels("mcc-model-runtime", "MedCloudCare model runtime (Open Inference V2)"))
    return assemble(ctx.store, "mcc/model-runtime", tag, runtime_layers(ctx), run)


def check_bundle(bundle: Path) -> None:
    """Refuse a path that is not an unpacked bundle, before anything is built."""
    if not bundle.is_dir() or not (bundle / "manifest.json").is_file():
        raise MissingInput("bundle", str(bundle), "give the unpacked, validated bundle (manifest.json at its root)")


def bundle_layer(ctx: Context, bundle: Path) -> Layer:
    """The validated bundle, read-only to the image user, at /opt/mcc/bundle: the one layer a version adds."""
    check_bundle(bundle)
    return ctx.layer("bundle", tree_entries(bundle, BUNDLE_DIR.lstrip("/"), skip=_no_bytecode))


def model_version_image(ctx: Context, bundle: Path, version: str, name: str | None = None, *,
                        repository: str | None = None, tag: str | None = None) -> Image:
    """Runtime base + exactly one layer holding the bundle; named mcc/model-<slug>:<version> unless `repository`
    and `tag` say otherwise (the knative deployer's MCC_KNATIVE_MODEL_IMAGE, e.g. mcc/models:<bundle digest>)."""
    layer = bundle_layer(ctx, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    slug = re.sub(r"[^a-z0-9]+", "-", (name or str(manifest.get("name", "model"))).lower()).strip("-") or "model"
    labels = {**_labels(f"mcc-model-{slug}", str(manifest.get("description", "A MedCloudCare model"))[:200], version),
              "org.opencontainers.image.base.name": "mcc/model-runtime:latest"}
    return assemble(ctx.store, repository or f"mcc/model-{slug}", tag or version, [*runtime_layers(ctx), layer],
                    _runtime_run(slug, version, labels))


def portal_image(ctx: Context, tag: str = "latest") -> Image:
    """The portal and OHIF (precompressed static files) served by the origin app, on the functions' layers."""
    dist, viewer = ctx.repo / "web" / "dist", ctx.repo / "web" / "ohif-dist"
    for what, folder in (("web/dist", dist), ("web/ohif-dist", viewer)):
        if not (folder / "index.html").is_file():
            raise MissingInput(what, str(folder), "build the web apps first (scripts/install)")
    static = [*tree_entries(dist, "app/web/dist"), *tree_entries(viewer, "app/web/ohif-dist")]
    origin = tree_entries(ctx.repo / "local-dev" / "mcc_local", "app/local-dev/mcc_local", skip=_no_bytecode)
    layers = [*functions_layers(ctx), ctx.layer("origin-code", origin), ctx.layer("web-static", static, level=1)]
    run = RunConfig(user=f"{APP_UID}:{APP_UID}",
                    entrypoint=["/usr/bin/python3.11", "-m", "gunicorn", "--worker-class", "gthread",
                                "--worker-tmp-dir", "/tmp", "--bind", f"0.0.0.0:{PORT}"],
                    cmd=["mcc_local.origin:create_app()"],
                    env={**PY_ENV, "PYTHONPATH": f"/app:/app/local-dev:/{SITE}"}, workdir="/app",
                    labels=_labels("mcc-portal", "MedCloudCare portal and OHIF viewer"), ports=(PORT,))
    return assemble(ctx.store, "mcc/portal", tag, layers, run)


def orthanc_config() -> dict:
    """The archive's defaults: plugins, the encrypting storage script with Orthanc's own keys where knative/base
    mounts them, state on the /var/lib/orthanc volume. The entry point merges MCC_ORTHANC_CONFIG and the REST user
    over them (model_builder/images/orthanc_entrypoint.py)."""
    return {
        "Name": "MedCloudCare archive", "StorageDirectory": f"{ORTHANC_VOLUME}/storage",
        "IndexDirectory": ORTHANC_VOLUME, "TemporaryDirectory": "/tmp/orthanc/tmp",
        "MedCloudCare": {"KeyDir": "/var/run/mcc/orthanc-keys",
                         "EncryptedStorageDirectory": f"{ORTHANC_VOLUME}/sealed"},
        "Plugins": [f"/usr/share/orthanc/plugins/lib{name}.so" for name in ORTHANC_PLUGINS],
        "PythonScript": f"/{ORTHANC_PLUGIN_ROOT}/orthanc/encrypted_storage.py", "PythonVerbose": False,
        "RemoteAccessAllowed": True, "AuthenticationEnabled": True, "HttpPort": 8042, "DicomServerEnabled": False,
        "ExecuteLuaEnabled": False, "RestApiWriteToFileSystemEnabled": False,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }


def orthanc_image(ctx: Context, tag: str = "latest") -> Image:
    """Debian's Orthanc with DICOMweb, Python and PostgreSQL plugins, and the encrypting storage plugin."""
    missing = [name for name in ORTHANC_PLUGIN_FILES if not (ctx.repo / name).is_file()]
    if missing:
        raise MissingInput("storage plugin", ", ".join(missing), "the repository's checkout is incomplete")
    app = [*(Entry(path=f"{ORTHANC_PLUGIN_ROOT}/{name}", source=ctx.repo / name) for name in ORTHANC_PLUGIN_FILES),
           Entry(path=ORTHANC_ENTRYPOINT.lstrip("/"), source=Path(__file__).with_name("orthanc_entrypoint.py"),
                 mode=0o755),
           Entry(path="etc/localtime", link="/usr/share/zoneinfo/Etc/UTC", mode=0o777),  # tzdata's postinst would
           directory(ORTHANC_VOLUME.lstrip("/")),  # where a deployment mounts the archive's volume, if any
           text_file("etc/orthanc/orthanc.json", json.dumps(orthanc_config(), indent=2, sort_keys=True) + "\n")]
    layers = [debian_layer(ctx, "debian-orthanc", ORTHANC_DEBS), users_layer(ctx), ctx.layer("orthanc-config", app)]
    run = RunConfig(user=f"{APP_UID}:{APP_UID}", entrypoint=["/usr/bin/python3", ORTHANC_ENTRYPOINT], cmd=[],
                    env={"HOME": "/tmp", "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"}, workdir="/tmp",
                    labels=_labels("mcc-orthanc", "MedCloudCare DICOM archive (Orthanc, encrypted storage)"),
                    ports=(8042,))
    return assemble(ctx.store, "mcc/orthanc", tag, layers, run)


SAMPLE_BUNDLES = (REPO / "model_builder" / "samples" / "ct_bone",)

IMAGES: dict[str, Callable[[Context], Image]] = {
    "functions": functions_image,
    "model-runtime": model_runtime_image,
    "portal": portal_image,
    "orthanc": orthanc_image,
}
