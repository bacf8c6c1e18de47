"""`inspect`, `gate` and `diff` JSON of real images match the schemas published in schemas/."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import run_boxwise
from support.schemas import errors

from .archives import docker_archive

SITE = "usr/lib/python3/site-packages"
RECORD = b"pkg/__init__.py,,\npkg-1.0.dist-info/RECORD,,\n"
BASE = [("d", "usr"), ("f", "bin/busybox", 200_000)]
OLD = [[*BASE], [("f", f"{SITE}/pkg/__init__.py", 3_000), ("f", f"{SITE}/pkg-1.0.dist-info/RECORD", RECORD)]]
NEW = [
    *OLD,
    [("f", "data.bin", 10_000), ("f", f"{SITE}/pkg/__init__.py", 9_000)],  # grown and wasted
    [("w", "data.bin"), ("f", "app/main.py", 500)],  # deleted: waste in both accountings
]


def test_inspect_gate_and_diff_json_match_their_schemas(tmp_path: Path) -> None:
    old = docker_archive(tmp_path / "old.tar", OLD)
    new = docker_archive(tmp_path / "new.tar", NEW)
    inspect = run_boxwise("inspect", f"docker-archive:{new}", "--format", "json", cwd=tmp_path)
    assert inspect.returncode == 0, inspect.stderr
    analysis = json.loads(inspect.stdout)
    assert analysis["inefficient_files"] and analysis["dependencies"]["distributions"]
    assert errors(analysis, "inspect") == []

    gate = run_boxwise("gate", f"docker-archive:{new}", "--format", "json", "--lowestEfficiency", "0.99")
    assert gate.returncode == 1, gate.stderr  # a failed rule: its figure and message are checked too
    verdict = json.loads(gate.stdout)
    assert verdict["status"] == "FAIL"
    assert errors(verdict, "gate") == []

    diff = run_boxwise("diff", f"docker-archive:{old}", f"docker-archive:{new}", "--format", "json")
    assert diff.returncode == 0, diff.stderr
    document = json.loads(diff.stdout)
    assert document["files"]["grown"] and document["files"]["added"]
    assert errors(document, "diff") == []
