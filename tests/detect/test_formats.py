"""Each output format, as the tool reading it needs it; exit codes by severity."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from support.cli import run_boxwise
from support.sarif import validate_sarif

FILES = {
    "apps/api/requirements.txt": "requests>=2\n--extra-index-url https://bot:t0ps3cret@pkgs.example.com/simple\n",
    "apps/api/Procfile": "web: gunicorn api:app\nworker python w.py\n",
    "apps/ok/requirements.txt": "click==8.1.7\n",
    "apps/ok/Procfile": "web: python -m ok\n",
}


def test_text_is_grouped_by_app_with_file_line_and_fix(make_git_repo) -> None:
    repo = make_git_repo(FILES)
    result = run_boxwise("detect", cwd=repo)
    assert result.returncode == 1
    out = result.stdout
    assert out.index("apps/api: pip-install, procfile-run") < out.index("apps/ok: pip-install, procfile-run")
    api_part = out[: out.index("apps/ok:")]
    assert "apps/api/Procfile:2  error  procfile-syntax" in api_part
    assert "apps/api/requirements.txt:2  error  url-credentials" in api_part
    assert "apps/api/requirements.txt:1  warning  unpinned" in api_part
    assert "fix: write each process as `name: command`" in api_part
    assert out.rstrip().endswith("2 apps, 2 error(s), 1 warning(s)")
    assert "t0ps3cret" not in out and "bot" not in out


def test_json_lists_apps_and_findings(make_git_repo) -> None:
    repo = make_git_repo(FILES)
    result = run_boxwise("detect", "--format", "json", cwd=repo)
    data = json.loads(result.stdout)
    assert [app["app"] for app in data["apps"]] == ["apps/api", "apps/ok"]
    assert data["apps"][1] == {
        "app": "apps/ok",
        "slug": "apps-ok",
        "group": ["pip-install", "procfile-run"],
        "failed": {},  # the first group passed: no other buildpack was tried
        "findings": [],
    }
    assert (data["errors"], data["warnings"]) == (2, 1)
    assert set(data["findings"][0]) == {"path", "line", "rule", "severity", "message", "fix"}


def test_codequality_is_gitlab_code_quality_with_stable_fingerprints(make_git_repo) -> None:
    repo = make_git_repo(FILES)
    first = json.loads(run_boxwise("detect", "--format", "codequality", cwd=repo).stdout)
    assert len(first) == 3
    by_check = {entry["check_name"]: entry for entry in first}
    syntax = by_check["procfile-syntax"]
    assert syntax["location"] == {"path": "apps/api/Procfile", "lines": {"begin": 2}}
    assert syntax["severity"] == "major"
    assert by_check["unpinned"]["severity"] == "minor"
    assert by_check["url-credentials"]["severity"] == "critical"
    assert "fix:" in syntax["description"]
    assert len({entry["fingerprint"] for entry in first}) == 3
    # a line moves: the same problems keep their fingerprints, so GitLab shows no new issue
    (repo / "apps/api/Procfile").write_text("# processes\nweb: gunicorn api:app\nworker python w.py\n")
    second = json.loads(run_boxwise("detect", "--format", "codequality", cwd=repo).stdout)
    assert sorted(e["fingerprint"] for e in first) == sorted(e["fingerprint"] for e in second)
    assert {e["check_name"]: e for e in second}["procfile-syntax"]["location"]["lines"]["begin"] == 3


def test_github_prints_workflow_command_annotations(make_git_repo) -> None:
    repo = make_git_repo(FILES)
    result = run_boxwise("detect", "--format", "github", cwd=repo)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(
        "::error file=apps/api/Procfile,line=2,title=boxwise procfile-syntax::not `name"
    )
    assert any(line.startswith("::warning file=apps/api/requirements.txt,line=1,") for line in lines)
    assert "t0ps3cret" not in result.stdout


def test_sarif_is_valid_sarif_2_1_0_with_each_finding_at_its_file_and_line(make_git_repo, tmp_path) -> None:
    repo = make_git_repo({**FILES, "apps/my app/requirements.txt": "flask\n"})
    result = run_boxwise("detect", "--format", "sarif", cwd=repo)
    assert result.returncode == 1, result.stderr
    checked = validate_sarif(result.stdout, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert {"url-credentials", "procfile-syntax", "unpinned"} <= set(rules)
    found = {
        (
            r["ruleId"],
            r["level"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"].get("region", {}).get("startLine"),
        )
        for r in run["results"]
    }
    assert ("procfile-syntax", "error", "apps/api/Procfile", 2) in found
    assert ("url-credentials", "error", "apps/api/requirements.txt", 2) in found
    assert ("unpinned", "warning", "apps/api/requirements.txt", 1) in found
    assert ("unpinned", "warning", "apps/my%20app/requirements.txt", 1) in found  # a URI, escaped
    for item in run["results"]:
        assert rules[item["ruleIndex"]] == item["ruleId"]
        assert "Fix: " in item["message"]["text"]
    assert "t0ps3cret" not in result.stdout

    # The same findings keep their fingerprints when a line moves, so code scanning keeps the alert.
    (repo / "apps/api/Procfile").write_text("# the processes\n" + FILES["apps/api/Procfile"])
    moved = json.loads(run_boxwise("detect", "--format", "sarif", cwd=repo).stdout)["runs"][0]["results"]
    prints = {
        r["ruleId"]: r["partialFingerprints"] for r in run["results"] if r["ruleId"] == "procfile-syntax"
    }
    assert prints == {
        r["ruleId"]: r["partialFingerprints"] for r in moved if r["ruleId"] == "procfile-syntax"
    }


def test_the_sarif_schema_check_really_rejects_what_code_scanning_would(make_git_repo, tmp_path) -> None:
    repo = make_git_repo(FILES)
    log = json.loads(run_boxwise("detect", "--format", "sarif", cwd=repo).stdout)
    log["runs"][0]["results"][0]["level"] = "critical"  # not a SARIF level
    checked = validate_sarif(json.dumps(log), tmp_path)
    assert checked.returncode == 1 and "critical" in checked.stdout


def test_sarif_of_clean_apps_has_no_result_and_exit_0(make_git_repo, tmp_path) -> None:
    repo = make_git_repo({"apps/ok/requirements.txt": "click==8.1.7\n", "apps/ok/Procfile": "web: x\n"})
    result = run_boxwise("detect", "--format", "sarif", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["runs"][0]["results"] == []
    checked = validate_sarif(result.stdout, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_output_writes_the_report_to_a_file_and_exit_0_without_errors(make_git_repo) -> None:
    repo = make_git_repo({k: v for k, v in FILES.items() if k.startswith("apps/ok")})
    result = run_boxwise("detect", "--format", "codequality", "--output", "cq.json", cwd=repo)
    assert result.returncode == 0
    assert result.stdout == ""
    assert json.loads((repo / "cq.json").read_text()) == []
    text = run_boxwise("detect", "--output", "report.txt", cwd=repo)
    assert text.returncode == 0
    assert "apps/ok: pip-install, procfile-run" in (repo / "report.txt").read_text()
    assert "\x1b[" not in (repo / "report.txt").read_text()


def heavy_modules(repo, *args: str, env: dict[str, str] | None = None) -> str:
    """The heavy modules a `boxwise detect ARGS` run imported, as printed by the run itself."""
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['boxwise', 'detect', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('boxwise', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('rich', 'docker', 'git', 'requests') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return result.stderr


@pytest.mark.parametrize(
    "args",
    [("--format", "json"), ("--format", "codequality"), ("--format", "sarif"), ("--format", "github"), ()],
)
def test_machine_and_piped_output_import_no_rich_docker_or_git(make_git_repo, args: tuple[str, ...]) -> None:
    repo = make_git_repo(FILES)
    assert "HEAVY []" in heavy_modules(repo, *args, env={"FORCE_COLOR": ""})


def test_text_on_a_terminal_is_styled_by_rich(make_git_repo) -> None:
    repo = make_git_repo(FILES)
    assert "HEAVY ['rich']" in heavy_modules(repo, env={"FORCE_COLOR": "1"})
    styled = run_boxwise("detect", cwd=repo, env={"FORCE_COLOR": "1"})
    assert "\x1b[" in styled.stdout
    plain = run_boxwise("detect", cwd=repo, env={"FORCE_COLOR": ""})
    assert re.sub(r"\x1b\[[0-9;]*m", "", styled.stdout) == plain.stdout
