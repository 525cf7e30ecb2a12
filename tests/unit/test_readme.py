"""The README is the operator's manual: it starts with the two commands and documents every setting."""

import re
from pathlib import Path

from functions.common.platform.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "./local-dev/up" in first_block and "./scripts/test" in first_block


def test_every_setting_is_in_the_configuration_table():
    missing = [f"MCC_{name.upper()}" for name in Settings.model_fields if f"MCC_{name.upper()}" not in README]
    assert not missing, f"README does not document {missing}"


def test_every_launcher_variable_is_documented():
    launcher = (Path(__file__).resolve().parents[2] / "local-dev" / "mcc_local" / "launcher.py").read_text()
    used = set(re.findall(r'"(MCC_[A-Z_]+)"', launcher))
    missing = sorted(v for v in used if v not in README)
    assert not missing, f"README does not document {missing}"
