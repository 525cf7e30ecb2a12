"""Static checks of a bundle's code: the entry point's Application, every InferTask's declaration (type, labels,
the DICOM attributes it needs), Label calls.

Only what is statically visible is judged: a value computed at run time is not a problem here (the smoke
run sees it), a literal that cannot work is, at its file and line.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterator

from ..application import Application
from ..labels import InferType, Label
from ..manifest import LABEL_NAME
from ..task import InferTask
from .dicom_keywords import keyword_problem
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


def task_inputs(resolver: Resolver) -> tuple[tuple[str, ...], list[Problem]]:
    """The DICOM keywords the bundle's InferTasks declare as `inputs` (sorted, once each), and every declaration
    that is not a literal of known, plain-valued keywords: the platform sends a model only what it declared."""
    found: dict[int, tuple[Module, ast.AST, str]] = {}  # by node: a shared base's declaration is judged once
    tasks = [cls for cls in resolver.classes() if resolver.is_subclass(cls, InferTask)]
    for cls in tasks:
        for current in resolver.lineage(cls):
            for value, what in _input_declarations(current):
                found.setdefault(id(value), (current.module, value, what))
    for module in resolver.modules.values():
        for call in _calls(module.tree):
            ref = resolver.resolve(module, call.func)
            if isinstance(ref, LocalClass) and resolver.is_subclass(ref, InferTask):
                for keyword in call.keywords:
                    if keyword.arg == "inputs":
                        found.setdefault(id(keyword.value), (module, keyword.value, f"inputs= of {ref.name}(...)"))
    keywords: set[str] = set()
    problems: list[Problem] = []
    for module, value, what in sorted(found.values(), key=lambda f: (f[0].file, getattr(f[1], "lineno", 0),
                                                                     getattr(f[1], "col_offset", 0))):
        keywords.update(_keywords(resolver, module, value, what, problems))
    return tuple(sorted(keywords)), problems


def _input_declarations(cls: LocalClass) -> Iterator[tuple[ast.AST, str]]:
    """Where a task class sets `inputs`: its class attribute, `self.inputs = ...`, `super().__init__(inputs=...)`;
    a method or property named inputs, or `self.inputs += ...`, is yielded as itself (computed at run time)."""
    what = f"{cls.name}.inputs"
    for statement in cls.node.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name == "inputs":
            yield statement, what
        elif _binds(statement, "inputs"):
            yield statement.value, what  # type: ignore[attr-defined]
    for node in ast.walk(cls.node):
        if isinstance(node, ast.AugAssign) and _is_inputs_attribute(node.target):
            yield node, what
        elif isinstance(node, ast.Assign) and any(_is_inputs_attribute(t) for t in node.targets):
            yield node.value, what
        elif isinstance(node, ast.AnnAssign) and _is_inputs_attribute(node.target) and node.value is not None:
            yield node.value, what
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__":
            yield from ((k.value, what) for k in node.keywords if k.arg == "inputs")


def _is_inputs_attribute(target: ast.expr) -> bool:
    return isinstance(target, ast.Attribute) and target.attr == "inputs"


def _keywords(resolver: Resolver, module: Module, value: ast.AST, what: str, problems: list[Problem]) -> list[str]:
    """The keywords of one declaration (through module-level constants), each wrong one a problem at its line."""
    literal = 'write the DICOM keywords as a literal tuple, e.g. `inputs = ("PatientAge",)`'
    if isinstance(value, ast.expr):
        module, value = resolver.assigned(module, value)
    if isinstance(value, ast.Constant):
        fix = f"write `inputs = ({json.dumps(value.value)},)` (mind the comma)" if isinstance(value.value, str) \
            else literal
        problems.append(_at(module.file, value, f"{what} must be a tuple of DICOM keywords, not {value.value!r}:"
                            f" {fix}"))
        return []
    if not isinstance(value, (ast.Tuple, ast.List)):
        problems.append(_at(module.file, value, f"{what} is computed at run time: {literal}, so the platform knows"
                            " which attributes to send"))
        return []
    keywords = []
    for element in value.elts:
        _, item = resolver.assigned(module, element)
        if not (isinstance(item, ast.Constant) and isinstance(item.value, str)):
            shown = repr(item.value) if isinstance(item, ast.Constant) else ast.unparse(element)
            problems.append(_at(module.file, element, f"{what} holds {shown}, not a DICOM keyword: {literal}"))
        elif (message := keyword_problem(item.value)) is not None:
            problems.append(_at(module.file, element, f"{what}: {message}"))
        else:
            keywords.append(item.value)
    return keywords


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
