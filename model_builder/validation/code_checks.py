"""Static checks of a bundle's code: the entry point's Application, every InferTask's declaration, Label calls.

Only what is statically visible is judged: a value computed at run time is not a problem here (the smoke
run sees it), a literal that cannot work is, at its file and line.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

from ..application import Application
from ..labels import InferType, Label
from ..manifest import LABEL_NAME
from ..task import InferTask
from .problems import Problem
from .pysource import SDK_MODULES, LocalClass, Module, ModuleRef, Resolver, SdkObject

# Where a manifest field is: (file, line, column) for a JSON path such as "$.entry_point".
Locate = Callable[[str], tuple[str, int | None, int | None]]
_TYPES = ", ".join(f"InferType.{member.name}" for member in InferType)


def _at(file: str, node: ast.AST, message: str) -> Problem:
    return Problem("static", file, getattr(node, "lineno", None),
                   getattr(node, "col_offset", -1) + 1 or None, message)


def _in_manifest(locate: Locate, path: str, message: str) -> Problem:
    file, line, column = locate(path)
    return Problem("static", file, line, column, message)


def entry_problems(resolver: Resolver, entry_point: str, locate: Locate, unparsed: set[str]) -> list[Problem]:
    """The entry point names a top-level Application subclass with a run() (file and line of what is wrong)."""
    module_name, class_name = entry_point.split(":", 1)
    if module_name not in resolver.modules and module_name not in SDK_MODULES:
        candidates = {f"{module_name.replace('.', '/')}.py", f"{module_name.replace('.', '/')}/__init__.py"}
        if candidates & unparsed:
            return []  # its syntax error is already reported, at its line
        return [_in_manifest(locate, "$.entry_point", f"module {module_name!r} is not in the bundle: add"
                             f" {module_name.replace('.', '/')}.py or correct entry_point ('module:Class')")]
    ref = resolver.attribute(module_name, class_name)
    if isinstance(ref, SdkObject):
        if resolver.is_subclass(ref, Application) and not getattr(ref.value, "__abstractmethods__", ()):
            return []
        return [_in_manifest(locate, "$.entry_point", f"{entry_point} is not an Application the runtime can build")]
    if not isinstance(ref, LocalClass):
        module = resolver.modules.get(module_name)
        found = ", ".join(module.classes) if module else ""
        return [_in_manifest(locate, "$.entry_point", f"{module.file if module else module_name} defines no"
                             f" top-level class {class_name}" + (f" (it defines {found})" if found else ""))]
    problems = []
    if not resolver.is_subclass(ref, Application):
        problems.append(_at(ref.module.file, ref.node, f"{class_name} must derive from model_builder.Application"
                            f" (directly or through a class of the bundle): write `class {class_name}(Application)`"
                            " after `from model_builder import Application`"))
    if _defines_run(resolver, ref) is False:
        problems.append(_at(ref.module.file, ref.node, f"{class_name} does not define run(self, volume): the"
                            " runtime calls it for every series; implement it (or inherit it from a class of the"
                            " bundle)"))
    return problems


def _defines_run(resolver: Resolver, cls: LocalClass) -> bool | None:
    """Whether the class or a base defines run(); None when a base is unknown (not statically visible)."""
    unknown = False
    for current in resolver.lineage(cls):
        if any(_binds(statement, "run") for statement in current.node.body):
            return True
        for base in resolver.bases(current):
            if isinstance(base, SdkObject) and isinstance(base.value, type) and issubclass(base.value, Application):
                if "run" not in getattr(base.value, "__abstractmethods__", ()):
                    return True
            elif not isinstance(base, (LocalClass, SdkObject)):
                unknown = True
    return None if unknown else False


def _binds(statement: ast.stmt, name: str) -> bool:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return statement.name == name
    if isinstance(statement, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in statement.targets)
    return isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) \
        and statement.target.id == name and statement.value is not None


def _declared(resolver: Resolver, cls: LocalClass, name: str) -> tuple[LocalClass, ast.stmt, ast.expr] | None:
    """The nearest class-level `name = value` in the class or its bundle bases."""
    for current in resolver.lineage(cls):
        for statement in reversed(current.node.body):
            if _binds(statement, name) and not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return current, statement, statement.value  # type: ignore[attr-defined,return-value]
    return None


def _set_elsewhere(resolver: Resolver, cls: LocalClass, name: str) -> bool:
    """Whether the class sets `name` at run time (`self.name = ...` or `name=...` in a call, e.g. to super())."""
    for current in resolver.lineage(cls):
        for node in ast.walk(current.node):
            if isinstance(node, ast.Attribute) and node.attr == name and isinstance(node.ctx, ast.Store):
                return True
            if isinstance(node, ast.keyword) and node.arg == name:
                return True
    return False


def task_types(resolver: Resolver) -> tuple[dict[LocalClass, InferType], list[Problem]]:
    """Every concrete InferTask of the bundle with its statically visible type, and its declaration problems."""
    problems: list[Problem] = []
    types: dict[LocalClass, InferType] = {}
    tasks = [cls for cls in resolver.classes() if resolver.is_subclass(cls, InferTask)]
    bases = {id(base.node) for cls in resolver.classes() for base in resolver.bases(cls)
             if isinstance(base, LocalClass)}
    for cls in tasks:
        leaf = id(cls.node) not in bases  # a base shared by several tasks may leave type and labels to them
        infer_type = _type_of(resolver, cls, leaf, problems)
        if infer_type is not None:
            types[cls] = infer_type
        _labels_of(resolver, cls, leaf, infer_type, problems)
    return types, problems


def _type_of(resolver: Resolver, cls: LocalClass, leaf: bool, problems: list[Problem]) -> InferType | None:
    declared = _declared(resolver, cls, "type")
    if declared is None:
        if leaf and not _set_elsewhere(resolver, cls, "type"):
            problems.append(_at(cls.module.file, cls.node, f"{cls.name} declares no type: add"
                                f" `type = InferType.SEGMENTATION` (or another of {_TYPES})"))
        return None
    owner, statement, value = declared
    if isinstance(value, ast.Constant):
        problems.append(_at(owner.module.file, statement, f"{owner.name}.type must be an InferType member, not"
                            f" {value.value!r}: write one of {_TYPES}"))
        return None
    if isinstance(value, ast.Attribute) and resolver.resolve(owner.module, value.value) == SdkObject(InferType):
        if value.attr in InferType.__members__:
            return InferType[value.attr]
        problems.append(_at(owner.module.file, statement, f"InferType.{value.attr} is not a task type: use one of"
                            f" {_TYPES}"))
    return None


def _labels_of(resolver: Resolver, cls: LocalClass, leaf: bool, infer_type: InferType | None,
               problems: list[Problem]) -> None:
    needs_labels = infer_type is not None and infer_type is not InferType.PROCESSING
    declared = _declared(resolver, cls, "labels")
    if declared is None:
        if leaf and needs_labels and not _set_elsewhere(resolver, cls, "labels"):
            problems.append(_at(cls.module.file, cls.node, f"{cls.name} declares no labels: a {infer_type.value}"
                                ' task needs at least one, e.g. `labels = (Label("Liver"),)`'))
        return
    owner, statement, value = declared
    if not isinstance(value, (ast.Tuple, ast.List)):
        return  # computed: not statically visible
    if not value.elts and needs_labels:
        problems.append(_at(owner.module.file, statement, f"{owner.name}.labels is empty: a {infer_type.value}"
                            " task needs at least one Label"))
    names = [name for element in value.elts if (name := _label_name(resolver, owner.module, element))]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(_at(owner.module.file, statement, f"label name {name!r} appears more than once in"
                            f" {owner.name}.labels: label names must be unique"))


def _label_name(resolver: Resolver, module: Module, element: ast.expr) -> str | None:
    """The name of a `Label("Liver", ...)` element, directly or through a module-level constant."""
    module, value = resolver.assigned(module, element)
    if isinstance(value, ast.Call) and resolver.resolve(module, value.func) == SdkObject(Label):
        name = _name_argument(value)
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            return name.value
    return None


def _name_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "name"), None)


def label_call_problems(resolver: Resolver) -> list[Problem]:
    """Every `Label(...)` call of the bundle whose name is visibly not a valid label name."""
    problems = []
    for module in resolver.modules.values():
        for call in _calls(module.tree) if module.mentions_label else ():
            if resolver.resolve(module, call.func) != SdkObject(Label):
                continue
            name = _name_argument(call)
            if name is None and not any(k.arg is None for k in call.keywords):
                problems.append(_at(module.file, call, 'Label(...) needs a name as its first argument,'
                                    ' e.g. Label("Liver")'))
            elif isinstance(name, ast.Constant) and not isinstance(name.value, str):
                problems.append(_at(module.file, call, f"a label's name must be a string, not {name.value!r}"))
            elif isinstance(name, ast.Constant) and not LABEL_NAME.match(name.value):
                problems.append(_at(module.file, call, f"label name {name.value!r} must be 1-64 characters without"
                                    " leading or trailing spaces"))
    return problems


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def agreement_problems(resolver: Resolver, entry_point: str, task: InferType, types: dict[LocalClass, InferType],
                       locate: Locate) -> list[Problem]:
    """The manifest's task is one of the types declared by the InferTasks the entry module uses."""
    reachable = _reachable(resolver, entry_point.split(":", 1)[0])
    used = {cls: t for cls, t in types.items() if cls.module.name in reachable}
    if not used or task in used.values():
        return []
    declared = "; ".join(f"{cls.module.file} line {cls.node.lineno}: {cls.name} is InferType.{t.name}"
                         for cls, t in sorted(used.items(), key=lambda item: (item[0].module.file, item[0].name)))
    return [_in_manifest(locate, "$.task", f"the manifest's task is {task.value!r} but the model's tasks disagree"
                         f" ({declared}): make them the same")]


def _reachable(resolver: Resolver, start: str) -> set[str]:
    """The bundle modules the entry module imports, directly or not (itself included)."""
    seen: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name in seen or name not in resolver.modules:
            continue
        seen.add(name)
        for source, attr in resolver.modules[name].imports.values():
            pending.append(source)
            if attr and isinstance(resolver.attribute(source, attr), ModuleRef):
                pending.append(f"{source}.{attr}")
    return seen
