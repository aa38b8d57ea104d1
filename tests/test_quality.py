"""Lint and types are part of the suite, so CI enforces them (settings in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command", [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]]
)
def test_clean(command: list[str]) -> None:
    tool = BIN / command[0]
    if not tool.exists():
        found = shutil.which(command[0])
        assert found, f"{command[0]} is not installed (pip install -e '.[test]')"
        tool = Path(found)
    result = subprocess.run([str(tool), *command[1:]], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
