"""SARIF logs checked against the official 2.1.0 schema with check-jsonschema."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.cli import REPO

SARIF_SCHEMA = REPO / "tests" / "sarif" / "sarif-schema-2.1.0.json"  # OASIS's; see SOURCE.md there


def validate_sarif(document: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema (formats checked too) of a SARIF log against the official 2.1.0 schema."""
    path = tmp_path / "boxwise.sarif"
    path.write_text(document, encoding="utf-8")
    tool = shutil.which(
        "check-jsonschema", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if tool is None:
        pytest.fail("check-jsonschema is not installed; run scripts/setup.sh")
    command = [tool, "--schemafile", str(SARIF_SCHEMA), str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)
