"""A bundle's Python modules, parsed but never imported, and what their names refer to.

Resolution follows what Python would do at import time for the forms models are written in: top-level
classes and assignments, `import x [as y]`, `from x import y [as z]` (absolute or relative) between the
bundle's modules, and the SDK's public classes (`model_builder.Application`, `mb.InferTask`, ...), looked up
on the real SDK. Anything else (a third-party base class, a computed value) resolves to None: unknown.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .problems import Problem

# The SDK modules whose public names a bundle may build on; looked up on the installed SDK.
SDK_MODULES = ("model_builder", "model_builder.application", "model_builder.task", "model_builder.labels",
               "model_builder.monai_bundle", "model_builder.outputs")
_MAX_DEPTH = 20


@dataclass(eq=False)  # by identity: classes of the module are looked up by it
class Module:
    """One parsed module of the bundle: its dotted name, file (relative to the bundle's root) and top-level names."""

    name: str
    file: str
    tree: ast.Module
    is_package: bool = False
    mentions_label: bool = True  # whether the source has the word Label at all (most modules need no Label scan)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    assigns: dict[str, ast.expr] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name → (module, attribute)


@dataclass(frozen=True)
class ModuleRef:
    """A name bound to a module (`import model_builder as mb`)."""

    name: str


@dataclass(frozen=True)
class LocalClass:
    """A class defined in the bundle."""

    module: Module
    node: ast.ClassDef

    @property
    def name(self) -> str:
        return self.node.name


@dataclass(frozen=True)
class SdkObject:
    """A public object of the SDK (a class such as Application, or the InferType enum)."""

    value: Any


Ref = ModuleRef | LocalClass | SdkObject


def parse_modules(root: Path) -> tuple[dict[str, Module], list[Problem]]:
    """Every importable .py module under `root` by dotted name, and a Problem for each file that does not parse."""
    modules: dict[str, Module] = {}
    problems: list[Problem] = []
    for path in sorted(root.rglob("*.py")):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(root).as_posix()
        source = path.read_bytes()
        try:
            tree = ast.parse(source, filename=rel)
        except SyntaxError as e:
            problems.append(Problem("static", rel, e.lineno, e.offset, f"{type(e).__name__}: {e.msg}"))
            continue
        except (ValueError, RecursionError, MemoryError) as e:  # NUL bytes, absurd nesting
            problems.append(Problem("static", rel, None, None, f"cannot be parsed as Python: {e or type(e).__name__}"))
            continue
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        if parts and all(part.isidentifier() for part in parts):
            modules[".".join(parts)] = _index(Module(".".join(parts), rel, tree, is_package, b"Label" in source))
    return modules, problems


def _index(module: Module) -> Module:
    for node in module.tree.body:
        if isinstance(node, ast.ClassDef):
            module.classes[node.name] = node
            module.assigns.pop(node.name, None)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    module.assigns[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            module.assigns[node.target.id] = node.value
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    module.imports[alias.asname] = (alias.name, None)
                else:  # `import a.b` binds `a`
                    top = alias.name.split(".")[0]
                    module.imports[top] = (top, None)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node.level, node.module)
            for alias in node.names:
                if alias.name != "*":
                    module.imports[alias.asname or alias.name] = (base, alias.name)
    return module


def _absolute(module: Module, level: int, name: str | None) -> str:
    """The absolute module name of a (possibly relative) `from` import."""
    if not level:
        return name or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, *([name] if name else [])])


class Resolver:
    """What names and attribute chains of the bundle's modules refer to."""

    def __init__(self, modules: dict[str, Module]) -> None:
        self.modules = modules

    def resolve(self, module: Module, expr: ast.expr, depth: int = 0) -> Ref | None:
        """The class, SDK object or module `expr` (a Name or an attribute chain) refers to in `module`, or None."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(expr, ast.Name):
            return self._name(module, expr.id, depth)
        if isinstance(expr, ast.Attribute):
            owner = self.resolve(module, expr.value, depth + 1)
            if isinstance(owner, ModuleRef):
                return self.attribute(owner.name, expr.attr, depth + 1)
        return None

    def attribute(self, module_name: str, attr: str, depth: int = 0) -> Ref | None:
        """`attr` of the module named `module_name`: a submodule, a bundle class, or an SDK object."""
        child = f"{module_name}.{attr}"
        if child in self.modules or child in SDK_MODULES:
            return ModuleRef(child)
        if module_name in self.modules:  # the bundle's own modules shadow installed ones, as on sys.path
            return self._name(self.modules[module_name], attr, depth + 1)
        if module_name in SDK_MODULES:
            value = getattr(importlib.import_module(module_name), attr, None)
            return SdkObject(value) if value is not None else None
        return None

    def _name(self, module: Module, name: str, depth: int) -> Ref | None:
        if name in module.classes:
            return LocalClass(module, module.classes[name])
        if name in module.imports:
            source, attr = module.imports[name]
            if attr is None:
                return ModuleRef(source)
            return self.attribute(source, attr, depth + 1)
        value = module.assigns.get(name)
        if isinstance(value, (ast.Name, ast.Attribute)):
            return self.resolve(module, value, depth + 1)
        return None

    def assigned(self, module: Module, expr: ast.expr, depth: int = 0) -> tuple[Module, ast.expr]:
        """The value a module-level name stands for (`LIVER = Label(...)`), following bundle imports."""
        if depth <= _MAX_DEPTH and isinstance(expr, ast.Name):
            if expr.id in module.assigns:
                return self.assigned(module, module.assigns[expr.id], depth + 1) \
                    if isinstance(module.assigns[expr.id], ast.Name) else (module, module.assigns[expr.id])
            source, attr = module.imports.get(expr.id, ("", None))
            if attr and source in self.modules:
                return self.assigned(self.modules[source], ast.Name(attr), depth + 1)
        return module, expr

    def bases(self, cls: LocalClass) -> list[Ref | None]:
        """What each base class expression of a bundle class refers to (None when unknown)."""
        return [self.resolve(cls.module, base) for base in cls.node.bases]

    def is_subclass(self, ref: Ref | None, sdk_class: type, seen: frozenset[int] = frozenset()) -> bool:
        """Whether `ref` is (or derives, through bundle classes, from) the SDK class `sdk_class`."""
        if isinstance(ref, SdkObject):
            return isinstance(ref.value, type) and issubclass(ref.value, sdk_class)
        if not isinstance(ref, LocalClass) or id(ref.node) in seen:
            return False
        return any(self.is_subclass(base, sdk_class, seen | {id(ref.node)}) for base in self.bases(ref))

    def lineage(self, cls: LocalClass) -> list[LocalClass]:
        """The class and its bundle base classes, nearest first (no duplicates)."""
        found: list[LocalClass] = []
        pending = [cls]
        while pending:
            current = pending.pop(0)
            if any(c.node is current.node for c in found):
                continue
            found.append(current)
            pending.extend(base for base in self.bases(current) if isinstance(base, LocalClass))
        return found

    def classes(self) -> list[LocalClass]:
        """Every top-level class of every bundle module."""
        return [LocalClass(m, node) for m in self.modules.values() for node in m.classes.values()]
