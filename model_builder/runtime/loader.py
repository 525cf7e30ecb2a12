"""Load one bundle: its manifest, its entry point's `Application` built once, and a checked `run` per series."""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from ..application import Application
from ..errors import InputError, ManifestError, OutputError
from ..manifest import Manifest, parse_manifest
from ..outputs import Output
from ..task import OUTPUT_KINDS, InferTask
from ..volume import Volume
from .errors import ModelFailedError, RuntimeLoadError

log = logging.getLogger(__name__)
_RUNTIME_ROOT = Path(__file__).resolve().parents[2]


def researcher_location(tb: TracebackType | None, bundle_dir: Path) -> str:
    """The innermost frame of a traceback inside the bundle, as "file.py:line" relative to the bundle ("" if none)."""
    location = ""
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.is_relative_to(bundle_dir):
            location = f"{path.relative_to(bundle_dir)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return location


def _location(error: BaseException, bundle_dir: Path) -> str:
    if isinstance(error, SyntaxError) and error.filename and Path(error.filename).is_relative_to(bundle_dir):
        return f"{Path(error.filename).relative_to(bundle_dir)}:{error.lineno}"
    return researcher_location(error.__traceback__, bundle_dir)


def scrub(text: str, bundle_dir: Path) -> str:
    """A message without the machine's paths: bundle files relative to the bundle, the Python install elided."""
    text = text.replace(f"{bundle_dir}/", "").replace(str(bundle_dir), ".")
    for prefix in sorted({sys.prefix, sys.base_prefix, str(_RUNTIME_ROOT)}, key=len, reverse=True):
        text = text.replace(prefix, "<runtime>")
    return text


def _describe(error: BaseException, bundle_dir: Path) -> str:
    return scrub(f"{type(error).__name__}: {error}", bundle_dir)


def _manifest(bundle_dir: Path) -> Manifest:
    path = bundle_dir / "manifest.json"
    if not path.exists() and (bundle_dir / "configs" / "metadata.json").exists():
        from ..monai_bundle import manifest_from_monai  # a MONAI Bundle, imported as it is: its metadata fills in

        try:
            return manifest_from_monai(bundle_dir)
        except ManifestError as e:
            raise RuntimeLoadError(f"configs/metadata.json is invalid: {e}") from e
    try:
        return parse_manifest(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError as e:
        raise RuntimeLoadError("the bundle has no manifest.json at its root") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RuntimeLoadError(f"manifest.json cannot be read as JSON: {_describe(e, bundle_dir)}") from e
    except ManifestError as e:
        raise RuntimeLoadError(f"manifest.json is invalid: {e}") from e


def _forget_other_bundles(module: str, bundle_dir: Path) -> None:
    """Drop cached modules of the entry point's top-level name loaded from elsewhere (another bundle in-process)."""
    top = module.split(".")[0]
    if top == __name__.split(".")[0]:
        return  # the SDK itself (a MONAI Bundle's entry point is model_builder.monai_bundle): never reloaded
    for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
        file = getattr(sys.modules[name], "__file__", None)
        if file and not Path(file).resolve().is_relative_to(bundle_dir):
            del sys.modules[name]


def _entry_class(manifest: Manifest, bundle_dir: Path) -> type[Application]:
    module_name, class_name = manifest.entry_point.split(":")
    if str(bundle_dir) in sys.path:
        sys.path.remove(str(bundle_dir))
    sys.path.insert(0, str(bundle_dir))
    _forget_other_bundles(module_name, bundle_dir)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.startswith(e.name):
            raise RuntimeLoadError(f"the entry point's module '{module_name}' is not in the bundle: add"
                                   f" {module_name.replace('.', '/')}.py or fix entry_point in manifest.json") from e
        raise RuntimeLoadError(f"importing '{module_name}' failed: {_describe(e, bundle_dir)}: install it in the"
                               " runtime's environment or remove the import", location=_location(e, bundle_dir)) from e
    except (Exception, SystemExit) as e:  # a bundle's import may raise anything
        raise RuntimeLoadError(f"importing '{module_name}' failed: {_describe(e, bundle_dir)}",
                               location=_location(e, bundle_dir)) from e
    entry = getattr(module, class_name, None)
    if not (isinstance(entry, type) and issubclass(entry, Application)):
        found = "nothing" if entry is None else type(entry).__name__
        raise RuntimeLoadError(f"'{manifest.entry_point}' must name a subclass of model_builder.Application,"
                               f" found {found}: fix entry_point in manifest.json")
    return entry


def _tasks(app: Application) -> list[InferTask]:
    return [value for value in vars(app).values() if isinstance(value, InferTask)]


@dataclass
class LoadedModel:
    """A bundle's application, built once, whose `run` checks outputs against the manifest's task and labels."""

    manifest: Manifest
    app: Application
    bundle_dir: Path
    load_seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, volume: Volume) -> list[Output]:
        """The model's validated outputs; `InputError` if it refused the volume, `ModelFailedError` if it broke."""
        start = time.perf_counter()
        try:
            result = self.app.run(volume)
        except InputError:
            raise
        except (Exception, SystemExit) as e:
            location = _location(e, self.bundle_dir)
            log.warning("the model raised %s at %s", type(e).__name__, location or "an unknown place")
            raise ModelFailedError(type(e).__name__, scrub(str(e), self.bundle_dir), location=location) from e
        run_seconds = time.perf_counter() - start
        start = time.perf_counter()
        outputs = self.check(result, volume)
        self.timings = {"run": run_seconds, "validate": time.perf_counter() - start}
        tasks = _tasks(self.app)
        if len(tasks) == 1:
            self.timings.update(tasks[0].latencies)
        return outputs

    def check(self, result: Output | list[Output], volume: Volume) -> list[Output]:
        """The result as a list, each output of the task's kinds and fitting the volume, else `ModelFailedError`."""
        outputs = list(result) if isinstance(result, list | tuple) else [result]
        kinds = OUTPUT_KINDS[self.manifest.task]
        expected = " or ".join(k.__name__ for k in kinds)
        try:
            if not outputs:
                raise OutputError("Application.run", f"returned no output; a {self.manifest.task.value} model"
                                  f" returns {expected}")
            for output in outputs:
                if not isinstance(output, kinds):
                    raise OutputError("Application.run", f"a {self.manifest.task.value} model must return {expected},"
                                      f" got {type(output).__name__}")
                output.validate(volume, self.manifest.labels)
        except OutputError as e:
            raise ModelFailedError(type(e).__name__, str(e)) from e
        return outputs


def load_application(bundle_dir: str | Path) -> LoadedModel:
    """Parse the bundle's manifest, import its entry point and build its `Application` once."""
    start = time.perf_counter()
    root = Path(bundle_dir).resolve()
    if not root.is_dir():
        raise RuntimeLoadError(f"the bundle directory {bundle_dir} does not exist")
    manifest = _manifest(root)
    entry = _entry_class(manifest, root)
    try:
        app = entry(root)
    except (Exception, SystemExit) as e:
        raise RuntimeLoadError(f"building {entry.__name__}(bundle_dir) failed: {_describe(e, root)}",
                               location=_location(e, root)) from e
    seconds = time.perf_counter() - start
    log.info("loaded %s (%s) in %.3f s", manifest.name, manifest.entry_point, seconds)
    return LoadedModel(manifest, app, root, seconds)
