"""The README stays honest: its quick start, the commands it names, the CI script it describes."""

from __future__ import annotations

import re

from typer.main import get_command

from aggregator.cli import app
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def quick_start() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_quick_start_has_exactly_two_commands() -> None:
    serve, test = quick_start()
    assert serve.endswith("perles serve")
    assert test.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert quick_start()[1] in ci
    assert "PERLES_REQUIRE_POSTGRES=1" in ci and "PERLES_REQUIRE_BROWSER=1" in ci


def test_every_command_the_readme_names_exists() -> None:
    named = set(re.findall(r"`perles (\w+)", README))
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert named and named <= commands, named - commands
    assert commands <= named, f"undocumented commands: {commands - named}"


def test_every_settings_variable_the_readme_names_exists() -> None:
    from aggregator.settings import Settings

    named = {v.removeprefix("PERLES_").lower() for v in re.findall(r"`(PERLES_[A-Z_]+)`", README)}
    named -= {"test_postgres_url", "require_postgres", "require_browser"}  # test-only switches
    assert named <= set(Settings.model_fields), named - set(Settings.model_fields)
