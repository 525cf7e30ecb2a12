"""A JSON path points at the line (and column) of its key or value in the text the researcher edits."""

from __future__ import annotations

import pytest

from model_builder.validation.jsonpos import JsonPositions, Position

TEXT = """{
  "name": "Liver \\"v2\\" {not a brace}",
  "labels": [
    {"name": "Liver"},
    {
      "name": "Spleen",
      "code": {"value": "78961009",
               "scheme": "SCT"},
      "colour": [1, 2,
                 300]
    }
  ],
  "empty": {}, "list": [], "n": -1.5e3, "ok": true, "none": null
}
"""


@pytest.mark.parametrize(("path", "expected"), [
    ("$", Position(1, 1)),
    ("$.name", Position(2, 3)),
    ("$.labels", Position(3, 3)),
    ("$.labels[0]", Position(4, 5)),
    ("$.labels[0].name", Position(4, 6)),
    ("$.labels[1]", Position(5, 5)),
    ("$.labels[1].code.value", Position(7, 16)),
    ("$.labels[1].code.scheme", Position(8, 16)),
    ("$.labels[1].colour[2]", Position(10, 18)),
    ("$.none", Position(13, 53)),
])
def test_each_path_is_found_at_its_key_or_value(path, expected):
    assert JsonPositions(TEXT).find(path) == expected


def test_a_path_that_is_not_there_points_at_its_nearest_enclosing_value():
    positions = JsonPositions(TEXT)
    assert positions.find("$.labels[1].code.meaning") == positions.find("$.labels[1].code")
    assert positions.find("$.labels[7].name") == positions.find("$.labels")
    assert positions.find("$.missing") == Position(1, 1)
    assert positions.has("$.empty") and not positions.has("$.labels[1].code.meaning")


def test_invalid_json_is_refused():
    with pytest.raises(ValueError):
        JsonPositions('{"a": 1} trailing')


def test_the_non_standard_numbers_json_loads_accepts_are_located_too():
    positions = JsonPositions('{"a": NaN,\n "b": -Infinity, "c": [Infinity]}')
    assert positions.find("$.b") == Position(2, 2) and positions.find("$.c[0]") == Position(2, 24)
