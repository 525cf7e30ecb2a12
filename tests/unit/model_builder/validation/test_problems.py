"""A problem says where (stage, file, line, column) and what; a refused bundle carries every problem."""

from __future__ import annotations

import json

import pytest

from model_builder import ModelBuilderError
from model_builder.validation import Problem, ValidationFailed


def test_a_problem_is_json_for_the_editor_with_every_key():
    problem = Problem("static", "app.py", 12, 5, "SyntaxError: invalid syntax")
    assert json.loads(json.dumps(problem.to_json())) == {
        "stage": "static", "file": "app.py", "line": 12, "column": 5, "message": "SyntaxError: invalid syntax"}
    assert Problem("archive", None, None, None, "too big").to_json()["file"] is None
    assert str(problem) == "[static] app.py:12:5: SyntaxError: invalid syntax"


def test_a_problem_of_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="stage must be one of"):
        Problem("runtime", None, None, None, "x")  # type: ignore[arg-type]


def test_a_refused_bundle_is_an_sdk_error_listing_every_problem():
    problems = [Problem("manifest", "manifest.json", 3, 3, "task: is required"),
                Problem("static", "app.py", 7, 1, "no run")]
    error = ValidationFailed(problems)
    assert isinstance(error, ModelBuilderError) and isinstance(error, ValueError)
    assert error.problems == problems
    assert "2 problem(s)" in str(error) and "manifest.json:3:3" in str(error) and "app.py:7:1" in str(error)
    assert error.to_json()[1]["line"] == 7
