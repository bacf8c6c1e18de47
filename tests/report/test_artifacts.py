"""CI artifacts: JUnit XML, GitLab code quality, OpenMetrics, JSON and the GitHub runner files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

from support.cli import run_boxwise
from support.report import load_fixture

from boxwise.report.artifacts import codequality_json, junit_xml, metrics_text, report_json
from boxwise.report.model import ReportData

from .test_markdown import full_report


def two_apps() -> list[ReportData]:
    failing = full_report("verdict-fail.json")
    passing = full_report("verdict-pass.json")
    passing.app, passing.app_path, passing.findings = "apps/worker", "apps/worker", []
    return [failing, passing]


def test_junit_has_a_test_case_per_gate_rule_and_failures_with_figure_and_threshold() -> None:
    root = ET.fromstring(junit_xml(two_apps()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("6", "2", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["boxwise gate: apps/api", "boxwise gate: apps/worker"]
    cases = {(c.get("classname"), c.get("name")): c for s in suites for c in s.findall("testcase")}
    assert len(cases) == 6  # name + class unique, as GitLab requires
    failure = cases[("boxwise.gate.apps/api", "highestImageBytes")].find("failure")
    assert failure is not None
    assert failure.get("message") == "highestImageBytes: figure 52104999, threshold 50000000"
    assert cases[("boxwise.gate.apps/api", "highestWastedBytes")].find("failure") is None
    assert cases[("boxwise.gate.apps/worker", "highestUserWastedPercent")].find("skipped") is not None
    for suite in suites:
        counted = suite.findall("testcase")
        assert suite.get("tests") == str(len(counted))
        assert suite.get("failures") == str(sum(c.find("failure") is not None for c in counted))


def test_codequality_entries_have_every_field_gitlab_needs_and_stable_fingerprints() -> None:
    entries = json.loads(codequality_json(two_apps()))
    assert isinstance(entries, list) and len(entries) == 4  # 2 lint findings + 2 failed rules
    for entry in entries:
        assert isinstance(entry["description"], str) and entry["description"]
        assert isinstance(entry["check_name"], str) and entry["check_name"]
        assert re.fullmatch(r"[0-9a-f]{64}", entry["fingerprint"])
        assert entry["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert isinstance(entry["location"]["path"], str) and not entry["location"]["path"].startswith("/")
        assert isinstance(entry["location"]["lines"]["begin"], int)
    assert len({e["fingerprint"] for e in entries}) == 4
    gate = [e for e in entries if e["check_name"].startswith("boxwise-gate/")]
    assert {e["check_name"] for e in gate} == {
        "boxwise-gate/lowestEfficiency",
        "boxwise-gate/highestImageBytes",
    }
    assert all(e["location"]["path"] == "apps/api" for e in gate)
    # the next pipeline's report of the same problems gives the same fingerprints, even if figures move
    moved = two_apps()
    assert moved[0].verdict is not None
    moved[0].verdict.results[0].figure = 0.9801
    assert {e["fingerprint"] for e in json.loads(codequality_json(moved))} == {
        e["fingerprint"] for e in entries
    }


OPENMETRICS_LINE = re.compile(
    r'(# TYPE [a-z_]+ gauge|# HELP [a-z_]+ .+|[a-z_]+\{app="[^"\\]*(?:\\.[^"\\]*)*"\} -?[0-9.e+-]+|# EOF)'
)


def test_metrics_are_openmetrics_ending_with_eof() -> None:
    text = metrics_text(two_apps())
    assert text.endswith("# EOF\n")
    lines = text.splitlines()
    assert all(OPENMETRICS_LINE.fullmatch(line) for line in lines), lines
    assert lines.count("# EOF") == 1
    assert 'boxwise_image_size_bytes{app="apps/api"} 52104999' in lines
    assert 'boxwise_image_efficiency_ratio{app="apps/api"} 0.9873' in lines
    assert 'boxwise_image_wasted_bytes{app="apps/worker"} 661203' in lines
    assert 'boxwise_image_layers{app="apps/api"} 5' in lines
    # each family's samples follow its TYPE line, never interleaved with another family
    families = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    samples = [line.split("{")[0] for line in lines if not line.startswith("#")]
    assert samples == sorted(samples, key=families.index)
    assert 'boxwise_build_ok{app="apps/api"} 1' in lines


def test_metrics_say_which_app_failed_to_build() -> None:
    from boxwise.report.model import BuildFailure

    failed = BuildFailure("apps/web", "apps/web", "the build failed")
    lines = metrics_text(two_apps(), [failed]).splitlines()
    assert 'boxwise_build_ok{app="apps/web"} 0' in lines
    assert 'boxwise_build_ok{app="apps/worker"} 1' in lines
    assert not any(line.startswith("boxwise_image_") and "apps/web" in line for line in lines)
    assert all(OPENMETRICS_LINE.fullmatch(line) for line in lines), lines


def test_json_holds_everything() -> None:
    document = json.loads(report_json(two_apps()))
    assert document["passed"] is False
    api = document["apps"][0]
    assert api["app"] == "apps/api" and api["passed"] is False
    assert api["analysis"] == load_fixture("analysis-new.json")
    assert api["baseline"]["ref"] == "docker://registry.example.com/shop/api:main"
    assert api["diff"]["change"]["size_bytes"] == 52_104_999 - 48_311_204
    assert api["findings"] == load_fixture("findings.json")


def test_cli_writes_artifacts_and_github_runner_files(
    analyses: dict[str, Path], tmp_path: Path, clean_env
) -> None:
    out = tmp_path / "out"
    summary, outputs = tmp_path / "summary.md", tmp_path / "github_output"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_EVENT_NAME": "push",
    }
    result = run_boxwise(
        "report",
        str(analyses["new"]),
        "--baseline",
        str(analyses["baseline"]),
        "--app",
        "api",
        "--junit",
        str(out / "junit.xml"),
        "--codequality",
        str(out / "codequality.json"),
        "--metrics",
        str(out / "metrics.txt"),
        "--json",
        str(out / "report.json"),
        "--post",
        "auto",
        cwd=analyses["new"].parent,
        env=env,
    )
    assert result.returncode in (0, 1), result.stderr
    assert (
        "report not posted: this GitHub workflow run is for a 'push' event, not a pull request"
        in result.stderr
    )
    ET.parse(out / "junit.xml")
    assert isinstance(json.loads((out / "codequality.json").read_text()), list)
    assert (out / "metrics.txt").read_text().endswith("# EOF\n")
    document = json.loads((out / "report.json").read_text())
    assert document["apps"][0]["diff"]["layers"][2]["status"] == "added"
    assert summary.read_text().startswith("### boxwise · `api` · ")
    assert "<!-- boxwise:report app=api -->" in summary.read_text()
    written = dict(
        line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line and "<<" not in line
    )
    assert written["size-bytes"] == "52104999"
    assert written["efficiency"] == "0.9873"
    assert written["verdict"] in {"pass", "fail", "none"}


def test_unwritable_artifact_path_is_one_line_and_exit_2(analyses: dict[str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_boxwise(
        "report", str(analyses["new"]), "--metrics", str(blocker / "metrics.txt"), cwd=analyses["new"].parent
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"boxwise: error: {blocker / 'metrics.txt'}: cannot write")
    )
    assert "Traceback" not in result.stderr


def test_findings_and_failed_rules_become_github_annotations() -> None:
    from boxwise.report.artifacts import workflow_annotations

    lines = workflow_annotations(two_apps())
    assert lines[0].startswith("::warning file=apps/api/requirements.txt,line=3,title=boxwise unpinned::")
    assert lines[1].startswith(
        "::error file=apps/api/requirements.txt,line=7,title=boxwise conflicting-pins::"
    )
    gate = [line for line in lines if "boxwise gate" in line]
    assert gate == [
        "::error file=apps/api,title=boxwise gate lowestEfficiency::"
        "apps/api: lowestEfficiency: figure 0.9873, threshold 0.99",
        "::error file=apps/api,title=boxwise gate highestImageBytes::"
        "apps/api: highestImageBytes: figure 52104999, threshold 50000000",
    ]


def test_a_build_failure_is_a_failed_test_case_a_blocker_and_a_failed_app() -> None:
    from boxwise.report.model import BuildFailure

    broken = [BuildFailure("apps/empty", "apps/empty", "no buildpack group detects the app")]
    root = ET.fromstring(junit_xml(two_apps(), broken))
    assert (root.get("tests"), root.get("failures")) == ("7", "3")
    case = next(c for c in root.iter("testcase") if c.get("classname") == "boxwise.gate.apps/empty")
    assert case.get("name") == "build"
    assert case.find("failure").get("message") == "no buildpack group detects the app"
    entries = json.loads(codequality_json([], broken))
    assert entries[0]["check_name"] == "boxwise-build" and entries[0]["severity"] == "blocker"
    assert entries[0]["location"] == {"path": "apps/empty", "lines": {"begin": 1}}
    document = json.loads(report_json(two_apps()[1:], broken))
    assert document["passed"] is False
    assert document["apps"][-1] == {
        "app": "apps/empty",
        "app_path": "apps/empty",
        "passed": False,
        "error": "no buildpack group detects the app",
    }
