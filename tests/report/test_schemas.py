"""The report and diff JSON a user gets match the schemas published in schemas/."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import run_boxwise
from support.report import FIXTURES
from support.schemas import errors


def test_report_json_matches_its_schema(analyses: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run_boxwise(
        "report",
        str(analyses["new"]),
        "--baseline",
        str(analyses["baseline"]),
        "--app",
        "api",
        "--json",
        str(out),
        cwd=analyses["new"].parent,
    )
    assert result.returncode in (0, 1), result.stderr
    document = json.loads(out.read_text())
    assert document["apps"][0]["diff"] is not None  # the diff part is checked too
    assert errors(document, "report") == []


def test_saved_analyses_and_their_diff_match_the_schemas(analyses: dict[str, Path]) -> None:
    for name in ("analysis-new.json", "analysis-baseline.json"):
        assert errors(json.loads((FIXTURES / name).read_text()), "inspect") == [], name
    result = run_boxwise("diff", str(analyses["baseline"]), str(analyses["new"]), "--format", "json")
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    assert diff["dependencies"]["changes"]
    assert errors(diff, "diff") == []


def test_a_broken_output_is_caught() -> None:
    """The schemas say something: a report missing a field or with a wrong type fails them."""
    analysis = json.loads((FIXTURES / "analysis-new.json").read_text())
    del analysis["exact"]
    analysis["size_bytes"] = "52 MB"
    found = errors(analysis, "inspect")
    assert any("'exact' is a required property" in e for e in found)
    assert any(e.startswith("size_bytes:") for e in found)
