"""Declared dependencies match imports: deptry over src/ (run here, so CI runs it too)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def deptry(project: Path) -> subprocess.CompletedProcess[str]:
    scripts = Path(sys.executable).parent
    tool = shutil.which("deptry", path=f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}")
    if tool is None:
        pytest.fail("deptry is not installed; run scripts/setup.sh (it is in the test extra)")
    return subprocess.run(
        [tool, "src", "--no-ansi"], cwd=project, capture_output=True, text=True, timeout=120
    )


def test_every_import_of_src_is_declared_and_every_dependency_is_imported() -> None:
    result = deptry(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deptry_catches_an_undeclared_import_and_an_unused_dependency(tmp_path: Path) -> None:
    # The check above is only worth something if deptry sees both mistakes the issue found.
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\ndependencies = ["pre-commit"]\n'
        '[tool.deptry]\nknown_first_party = ["demo"]\n'
    )
    (tmp_path / "src" / "demo").mkdir(parents=True)
    (tmp_path / "src" / "demo" / "__init__.py").write_text("import yaml\n")
    result = deptry(tmp_path)
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert "'yaml' imported but" in said  # DEP001, or DEP003 where pre-commit brings it along
    assert "DEP002 'pre-commit' defined as a dependency but not used" in said
