"""The report and diff JSON a user gets match the schemas published in schemas/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import run_boxwise
from support.report import FIXTURES
from support.schemas import errors

from boxwise.analyze.efficiency import Analysis


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


def test_a_saved_analysis_reads_back_as_it_was_written() -> None:
    for name in ("analysis-new.json", "analysis-baseline.json"):
        saved = json.loads((FIXTURES / name).read_text())
        again = Analysis.from_json(saved).to_json()
        assert again == saved, name
        assert json.dumps(again) == json.dumps(saved), name  # 1 stays 1, 0.5 stays 0.5


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda a: a.__setitem__("layers", {"0": {}}), "'layers' is not a list"),
        (
            lambda a: a["layers"][2].__setitem__("size_bytes", "19 MB"),
            "'layers[2].size_bytes' is not an integer",
        ),
        (lambda a: a["exact"].pop("files"), "'exact.files' is missing"),
        (lambda a: a.__setitem__("efficiency", True), "'efficiency' is not a number"),
        (
            lambda a: a["dependencies"]["distributions"][0].__setitem__("name", 5),
            "'dependencies.distributions[0].name' is not a string",
        ),
        (lambda a: a.__setitem__("schema", "boxwise.inspect/9"), "'schema' is not 'boxwise.inspect/1'"),
    ],
)
def test_a_bad_saved_analysis_is_one_line_naming_the_file_and_field(
    analyses: dict[str, Path], change, named: str
) -> None:
    analysis = json.loads(analyses["new"].read_text())
    change(analysis)
    bad = analyses["new"].with_name("bad.json")
    bad.write_text(json.dumps(analysis))
    result = run_boxwise("report", str(bad), "--app", "api", cwd=bad.parent)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(error) == 1 and str(bad) in error[0] and named in error[0], result.stderr
