"""The DICOM attributes a task declares as `inputs` are read from the code, never run: literal keywords of the
dictionary become the version's list; anything the platform could not know or send is a problem at its line."""

from __future__ import annotations

import pytest

from model_builder.validation import ValidationFailed, analyse_bundle, validate_files

HEADER = '''
from model_builder import Application, InferTask, InferType, Label, LabelVolume

WEIGHT = "PatientWeight"
'''
APP = '''

class BodyApplication(Application):
    def __init__(self, bundle_dir="."):
        super().__init__(bundle_dir)
        self.task = Body()

    def run(self, volume):
        return self.task(volume)
'''


def _task(body: str, name: str = "Body", base: str = "InferTask") -> str:
    """A processing task whose class body (after type and labels) is `body`."""
    indented = "".join(f"    {line}\n" if line else "\n" for line in body.strip("\n").splitlines())
    return (f"\n\nclass {name}({base}):\n    type = InferType.PROCESSING\n    labels = (Label(\"Body\"),)\n"
            f"{indented}\n    def infer(self, data):\n        return LabelVolume(data > 0)\n")


@pytest.fixture
def bundle(classical):
    """The classical template's manifest with app.py made of the given tasks (and the entry class)."""
    def files(*tasks: str, extra: str = "") -> dict[str, str]:
        manifest = classical["manifest.json"].replace("app:BodyMaskApplication", "app:BodyApplication")
        return {"manifest.json": manifest, "app.py": HEADER + "".join(tasks) + APP + extra}
    return files


@pytest.fixture
def analyse(tmp_path, write_bundle):
    def run(files: dict[str, str]):
        return analyse_bundle(write_bundle(tmp_path / f"b{len(list(tmp_path.iterdir()))}", files))
    return run


def _where(analysis) -> list[tuple[str | None, int | None, int | None, str]]:
    assert {p.stage for p in analysis.problems} <= {"static"}
    return [(p.file, p.line, p.column, p.message) for p in analysis.problems]


def test_declared_inputs_reach_checked_sorted_and_once(bundle, tmp_path):
    files = bundle(_task('inputs = ("StudyDate", WEIGHT, "PatientAge")'),
                   _task('inputs = ["PatientAge"]', name="Other"))
    checked = validate_files(files, {}, workdir=tmp_path)
    assert checked.inputs == ("PatientAge", "PatientWeight", "StudyDate")


def test_a_bundle_whose_tasks_declare_nothing_has_no_inputs(bundle, template_files, tmp_path, analyse):
    assert validate_files(bundle(_task("")), {}, workdir=tmp_path).inputs == ()
    assert analyse(template_files("processing_classical")).inputs == ()
    assert analyse(template_files("classification")).inputs == ("PatientAge",)


def test_inputs_are_found_through_bases_constants_the_constructor_and_the_applications_call(bundle, analyse):
    base = _task('inputs = ("PatientSex",)', name="Shared")
    derived = '''

class Derived(Shared):
    def __init__(self):
        super().__init__(inputs=("BodyPartExamined",))
        self.inputs = INPUTS
'''
    extra = '''
INPUTS = ("SliceThickness", WEIGHT)


def build():
    return Derived(inputs=("Manufacturer",))
'''
    analysis = analyse(bundle(base, derived, _task("", base="Shared"), extra=extra))
    assert analysis.problems == []
    assert analysis.inputs == ("BodyPartExamined", "Manufacturer", "PatientSex", "PatientWeight", "SliceThickness")


def test_a_misspelt_keyword_is_reported_at_its_line_with_the_keyword_meant(bundle, analyse, line_of):
    files = bundle(_task('inputs = (\n    "PatientWeight",\n    "PatientAg",\n    "studydate",\n)'))
    analysis = analyse(files)
    assert _where(analysis) == [
        ("app.py", line_of(files["app.py"], '"PatientAg"'), 9,
         "Body.inputs: 'PatientAg' is not a DICOM attribute keyword: did you mean 'PatientAge'?"),
        ("app.py", line_of(files["app.py"], '"studydate"'), 9,
         "Body.inputs: 'studydate' is not a DICOM attribute keyword: did you mean 'StudyDate'?")]
    assert analysis.inputs == ("PatientWeight",)  # only what is right is kept; the bundle is refused anyway


def test_a_keyword_nothing_resembles_names_the_dictionary(bundle, analyse):
    [problem] = analyse(bundle(_task('inputs = ("TumourStage",)'))).problems
    assert problem.message == ("Body.inputs: 'TumourStage' is not a DICOM attribute keyword: use a keyword of the"
                               " DICOM data dictionary (PS3.6), e.g. 'PatientAge'")


@pytest.mark.parametrize(("declaration", "needle"), [
    ('inputs = tuple(k for k in ("PatientAge",))', "inputs = tuple"),
    ("inputs = keywords()", "inputs = keywords"),
    ("inputs = UNKNOWN", "inputs = UNKNOWN"),
    ("def __init__(self):\n    super().__init__(inputs=compute())", "inputs=compute"),
    ("@property\ndef inputs(self):\n    return (\"PatientAge\",)", "def inputs"),
    ("def __init__(self):\n    super().__init__()\n    self.inputs += (\"PatientAge\",)", "self.inputs +="),
])
def test_a_computed_declaration_is_a_problem_that_asks_for_a_literal(bundle, analyse, line_of, declaration, needle):
    files = bundle(_task(declaration))
    analysis = analyse(files)
    assert [(p.file, p.line) for p in analysis.problems] == [("app.py", line_of(files["app.py"], needle))]
    assert analysis.problems[0].message == (
        'Body.inputs is computed at run time: write the DICOM keywords as a literal tuple, e.g. `inputs ='
        ' ("PatientAge",)`, so the platform knows which attributes to send')


def test_a_single_string_or_a_non_string_element_says_how_to_write_the_tuple(bundle, analyse):
    problems = analyse(bundle(_task('inputs = "PatientAge"'), _task('inputs = ("PatientAge", 42, *MORE)',
                                                                    name="Other"))).problems
    assert [p.message for p in problems] == [
        "Body.inputs must be a tuple of DICOM keywords, not 'PatientAge': write `inputs = (\"PatientAge\",)`"
        " (mind the comma)",
        'Other.inputs holds 42, not a DICOM keyword: write the DICOM keywords as a literal tuple, e.g. `inputs ='
        ' ("PatientAge",)`',
        'Other.inputs holds *MORE, not a DICOM keyword: write the DICOM keywords as a literal tuple, e.g. `inputs ='
        ' ("PatientAge",)`']


def test_pixel_data_sequences_and_delimiters_are_refused_with_the_reason(bundle, analyse, line_of):
    files = bundle(_task('inputs = ("PixelData", "ReferencedSeriesSequence", "Item", "FloatPixelData")'))
    messages = [p.message for p in analyse(files).problems]
    assert messages == [
        "Body.inputs: 'PixelData' is bulk data (VR OB or OW): the model already receives the pixels as"
        " volume.array; declare only attributes of plain values (text, numbers, dates)",
        "Body.inputs: 'ReferencedSeriesSequence' is a sequence (VR SQ): the platform sends attributes of plain"
        " values only (text, numbers, dates); declare those instead",
        "Body.inputs: 'Item' is an item or sequence delimiter, not an attribute: remove it",
        "Body.inputs: 'FloatPixelData' is bulk data (VR OF): the model already receives the pixels as volume.array;"
        " declare only attributes of plain values (text, numbers, dates)"]


def test_a_wrong_input_makes_validation_fail_with_every_problem(bundle, tmp_path):
    with pytest.raises(ValidationFailed) as caught:
        validate_files(bundle(_task('inputs = ("PixelData", "PatientWieght")')), {}, workdir=tmp_path)
    assert [(p.stage, p.file) for p in caught.value.problems] == [("static", "app.py")] * 2
    assert "did you mean 'PatientWeight'?" in caught.value.problems[1].message
