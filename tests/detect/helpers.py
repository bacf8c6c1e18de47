"""Helpers for the detect area: run `boxwise detect` on real git repos and read its JSON."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from support.cli import run_boxwise


class Detected:
    """The parsed JSON report of one `boxwise detect` run, plus its exit code and stderr."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        self.code = result.returncode
        self.stderr = result.stderr
        self.data: dict[str, Any] = json.loads(result.stdout) if result.stdout.strip() else {}

    @property
    def apps(self) -> dict[str, dict[str, Any]]:
        return {app["app"]: app for app in self.data.get("apps", [])}

    def rules(self, path: str | None = None) -> list[tuple[str, int | None, str]]:
        """(path, line, rule) of every finding, or of those in one file."""
        return [
            (f["path"], f["line"], f["rule"])
            for f in self.data.get("findings", [])
            if path is None or f["path"] == path
        ]

    def errors(self) -> list[tuple[str, int | None, str]]:
        return [(f["path"], f["line"], f["rule"]) for f in self.data["findings"] if f["severity"] == "error"]

    def finding(self, rule: str) -> dict[str, Any]:
        matches = [f for f in self.data.get("findings", []) if f["rule"] == rule]
        assert matches, f"no {rule} finding in {self.rules()}"
        return matches[0]


def detect_json(repo: Path, *paths: str, env: dict[str, str] | None = None) -> Detected:
    result = run_boxwise("detect", "--format", "json", *paths, cwd=repo, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return Detected(result)
