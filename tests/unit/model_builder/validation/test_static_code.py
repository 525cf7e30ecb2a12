"""The bundle's code is read, never run: syntax, entry point, Application, InferTask declarations, Label calls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_builder.validation import Problem, check_bundle

TEMPLATES = ("segmentation_monai", "classification", "processing_classical")
TASK = '''
from model_builder import InferTask, InferType, Label, LabelVolume


class Organs(InferTask):
    type = InferType.SEGMENTATION
    labels = (Label("Liver"),)

    def infer(self, data):
        return LabelVolume(data > 0)
'''
APP = '''
from model_builder import Application

from tasks import Organs


class OrgansApplication(Application):
    def __init__(self, bundle_dir="."):
        super().__init__(bundle_dir)
        self.task = Organs()

    def run(self, volume):
        return self.task(volume)
'''


@pytest.fixture
def organs(classical) -> dict[str, str]:
    """A two-module segmentation bundle that passes: app.py uses the InferTask of tasks.py."""
    manifest = json.loads(classical["manifest.json"])
    manifest.update(task="segmentation", entry_point="app:OrgansApplication", labels=[{"name": "Liver"}])
    return {"manifest.json": json.dumps(manifest, indent=2), "app.py": APP, "tasks.py": TASK}


def static(problems: list[Problem]) -> list[tuple[str | None, int | None, str]]:
    assert {p.stage for p in problems} <= {"static"}
    return [(p.file, p.line, p.message) for p in problems]


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_passes(name, template_files, write_bundle, tmp_path):
    manifest, problems = check_bundle(write_bundle(tmp_path / name, template_files(name)))
    assert problems == [] and manifest is not None and manifest.entry_point.startswith("app:")


def test_the_organs_bundle_passes(organs, problems_of):
    assert problems_of(organs) == []


def test_a_syntax_error_is_reported_at_its_file_line_and_column(organs, problems_of):
    problems = problems_of({**organs, "helpers/util.py": "x = 1\ndef scale(volume:\n    return volume\n",
                            "helpers/indent.py": "def f():\nreturn 1\n"})
    assert [(p.file, p.line, p.column) for p in problems] == [("helpers/indent.py", 2, 1), ("helpers/util.py", 2, 10)]
    assert problems[0].message.startswith("IndentationError: expected an indented block")
    assert problems[1].message.startswith("SyntaxError: '(' was never closed")


def test_a_syntax_error_in_the_entry_module_is_reported_once(organs, problems_of):
    assert [(p.file, p.line) for p in problems_of({**organs, "app.py": APP + "\nreturn = 3\n"})] == [("app.py", 15)]


def test_an_entry_module_missing_from_the_bundle_is_reported_at_the_entry_point_line(organs, problems_of, line_of):
    manifest = organs["manifest.json"].replace('"app:', '"model:')
    assert static(problems_of({**organs, "manifest.json": manifest})) == [
        ("manifest.json", line_of(manifest, "entry_point"), "module 'model' is not in the bundle: add model.py or"
                                                            " correct entry_point ('module:Class')")]


def test_an_entry_class_missing_from_its_module_is_reported_at_the_entry_point_line(organs, problems_of, line_of):
    manifest = organs["manifest.json"].replace("OrgansApplication", "Organ")
    assert static(problems_of({**organs, "manifest.json": manifest})) == [
        ("manifest.json", line_of(manifest, "entry_point"), "app.py defines no top-level class Organ (it defines"
                                                            " OrgansApplication)")]


def test_an_entry_class_that_is_not_an_application_is_reported_at_its_line(organs, problems_of, line_of):
    app = APP.replace("class OrgansApplication(Application):", "class OrgansApplication(object):")
    [(file, line, message)] = static(problems_of({**organs, "app.py": app}))
    assert (file, line) == ("app.py", line_of(app, "class OrgansApplication"))
    assert message.startswith("OrgansApplication must derive from model_builder.Application")


def test_an_entry_class_without_run_is_reported_at_its_line(organs, problems_of, line_of):
    app = APP.replace("def run(self, volume):", "def call(self, volume):")
    assert static(problems_of({**organs, "app.py": app})) == [
        ("app.py", line_of(app, "class OrgansApplication"), "OrgansApplication does not define run(self, volume): the"
         " runtime calls it for every series; implement it (or inherit it from a class of the bundle)")]


@pytest.mark.parametrize("base", [
    "import model_builder as mb\n\nclass Base(mb.Application):",
    "import model_builder\n\nclass Base(model_builder.Application):",
    "import model_builder.application\n\nclass Base(model_builder.application.Application):",
    "from model_builder.application import Application as App\n\nclass Base(App):",
])
def test_application_and_run_are_found_through_bundle_bases_and_every_import_form(organs, problems_of, base):
    files = {**organs, "app.py": "from .core.base import Base\n\n\nclass OrgansApplication(Base):\n    pass\n",
             "models/__init__.py": "", "models/core/__init__.py": "",
             "models/core/base.py": f"{base}\n    def run(self, volume):\n        return None\n"}
    files = {("models/app.py" if name == "app.py" else name): text for name, text in files.items()}
    files["manifest.json"] = organs["manifest.json"].replace('"app:', '"models.app:')
    assert problems_of(files) == []


def test_a_base_the_bundle_cannot_show_to_be_an_application_is_reported(organs, problems_of):
    app = "from torch.nn import Module\n\n\nclass OrgansApplication(Module):\n    pass\n"
    [(file, line, message)] = static(problems_of({**organs, "app.py": app}))
    assert (file, line) == ("app.py", 4) and "must derive from model_builder.Application" in message


@pytest.mark.parametrize(("declaration", "says"), [
    ("type = InferType.SEGMENTAION", "InferType.SEGMENTAION is not a task type: use one of InferType.SEGMENTATION,"
                                     " InferType.CLASSIFICATION, InferType.DETECTION, InferType.LOCALISATION,"
                                     " InferType.PROCESSING"),
    ('type = "segmentation"', "Organs.type must be an InferType member, not 'segmentation': write one of"
                              " InferType.SEGMENTATION,"),
])
def test_an_infer_task_type_that_is_no_member_is_reported_at_its_line(organs, problems_of, line_of, declaration,
                                                                        says):
    tasks = TASK.replace("type = InferType.SEGMENTATION", declaration)
    [(file, line, message)] = static(problems_of({**organs, "tasks.py": tasks}))
    assert (file, line) == ("tasks.py", line_of(tasks, declaration)) and message.startswith(says)


def test_an_infer_task_without_type_or_labels_is_reported_at_its_class(organs, problems_of, line_of):
    tasks = TASK.replace("    type = InferType.SEGMENTATION\n", "")
    [(file, line, message)] = static(problems_of({**organs, "tasks.py": tasks}))
    assert (file, line) == ("tasks.py", line_of(tasks, "class Organs")) and "declares no type" in message
    tasks = TASK.replace('    labels = (Label("Liver"),)\n', "")
    assert static(problems_of({**organs, "tasks.py": tasks})) == [
        ("tasks.py", line_of(tasks, "class Organs"), 'Organs declares no labels: a segmentation task needs at least'
                                                     ' one, e.g. `labels = (Label("Liver"),)`')]


def test_type_and_labels_may_come_from_a_shared_base_or_the_constructor(organs, problems_of):
    tasks = TASK.replace("class Organs(InferTask):", "class Shared(InferTask):\n    pass\n\n\nclass Organs(Shared):")
    assert problems_of({**organs, "tasks.py": tasks}) == []
    tasks = TASK.replace('    labels = (Label("Liver"),)\n', "").replace(
        "    def infer", '    def __init__(self):\n        super().__init__(labels=(Label("Liver"),))\n\n    def infer')
    assert problems_of({**organs, "tasks.py": tasks}) == []


def test_empty_labels_are_a_problem_unless_the_task_is_processing(organs, problems_of, line_of):
    tasks = TASK.replace('labels = (Label("Liver"),)', "labels = ()")
    assert static(problems_of({**organs, "tasks.py": tasks})) == [
        ("tasks.py", line_of(tasks, "labels = ()"), "Organs.labels is empty: a segmentation task needs at least one"
                                                    " Label")]
    processing = tasks.replace("InferType.SEGMENTATION", "InferType.PROCESSING")
    manifest = organs["manifest.json"].replace('"segmentation"', '"processing"')
    assert problems_of({**organs, "tasks.py": processing, "manifest.json": manifest}) == []


def test_repeated_label_names_are_reported_through_module_constants(organs, problems_of, line_of):
    tasks = TASK.replace("class Organs", 'LIVER = Label("Liver")\nALIAS = LIVER\n\n\nclass Organs').replace(
        'labels = (Label("Liver"),)', 'labels = (ALIAS, Label("Spleen"), Label(name="Liver"))')
    assert static(problems_of({**organs, "tasks.py": tasks})) == [
        ("tasks.py", line_of(tasks, "labels = (ALIAS"), "label name 'Liver' appears more than once in Organs.labels:"
                                                        " label names must be unique")]


def test_label_calls_without_a_valid_name_are_reported_at_their_line(organs, problems_of, line_of):
    tasks = TASK + '\nimport model_builder as mb\n\nBAD = (mb.Label(3), Label(), Label(" Liver"), Label(f"{1}"))\n'
    assert static(problems_of({**organs, "tasks.py": tasks})) == [
        ("tasks.py", line_of(tasks, "BAD ="), "a label's name must be a string, not 3"),
        ("tasks.py", line_of(tasks, "BAD ="), 'Label(...) needs a name as its first argument, e.g. Label("Liver")'),
        ("tasks.py", line_of(tasks, "BAD ="), "label name ' Liver' must be 1-64 characters without leading or"
                                              " trailing spaces")]


def test_a_manifest_task_the_entry_modules_tasks_disagree_with_is_reported(organs, problems_of, line_of):
    manifest = organs["manifest.json"].replace('"segmentation"', '"classification"')
    assert static(problems_of({**organs, "manifest.json": manifest})) == [
        ("manifest.json", line_of(manifest, '"task"'), "the manifest's task is 'classification' but the model's tasks"
         f" disagree (tasks.py line {TASK.splitlines().index('class Organs(InferTask):') + 1}: Organs is"
         " InferType.SEGMENTATION): make them the same")]


def test_every_problem_of_every_kind_is_reported_at_once(organs, problems_of):
    files = {**organs, "tasks.py": TASK.replace("SEGMENTATION", "SEGMENTAION"), "broken.py": "def (:\n",
             "manifest.json": organs["manifest.json"].replace('"Liver"', '"Liver", "extra": 1')}
    problems = problems_of({**files, "app.py": APP.replace("def run", "def go")})
    assert [(p.stage, p.file) for p in problems] == [
        ("manifest", "manifest.json"), ("static", "broken.py"), ("static", "tasks.py"), ("static", "app.py")]


def test_the_bundles_code_is_never_imported_or_run(organs, tmp_path, write_bundle):
    marker = tmp_path / "ran"
    side_effect = f"open({str(marker)!r}, 'w').write('imported')\nraise SystemExit(3)\n"
    root = write_bundle(tmp_path / "bundle", {**organs, "app.py": side_effect + APP, "tasks.py": side_effect + TASK})
    manifest, problems = check_bundle(root)
    assert problems == [] and manifest is not None and not marker.exists()
    assert not list(Path(root).rglob("__pycache__"))
