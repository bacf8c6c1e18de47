"""When the report becomes a comment: `post-when`, and summary-only for merge requests from forks.

The comments go to tests/report/fakeapi.py; `post_reports` runs in this process for the policy
cases, the CLI in a child process for what a user configures and sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import run_boxwise
from support.report import github_env, gitlab_env

from boxwise.analyze.diff import diff_analyses
from boxwise.report.command import post_reports

from .test_markdown import full_report
from .test_post import report as cli_report

MARKER = "<!-- boxwise:report app=api -->"


def report(same_image: bool = False, passed: bool = False):
    data = full_report("verdict-pass.json" if passed else "verdict-fail.json")
    data.app = "api"
    if same_image:  # the baseline is this very image
        data.baseline = data.analysis
        data.diff = diff_analyses(data.analysis, data.analysis)
    return data


def post(fake_api, data, post_when: str) -> None:
    code = post_reports([data], "gitlab", strict=True, env=gitlab_env(fake_api), post_when=post_when)
    assert code == 0


def methods(fake_api) -> list[str]:
    return [r.method for r in fake_api.state.requests if r.method != "GET"]


def test_changed_creates_no_comment_for_an_unchanged_image_but_updates_one(fake_api, capsys) -> None:
    fake_api.add_merge_request("5", 7)
    post(fake_api, report(same_image=True), "changed")
    assert fake_api.state.notes[("5", "7")] == [] and methods(fake_api) == []
    err = capsys.readouterr().err
    assert "no api comment created (post-when = changed: the image is the same as the baseline)" in err

    post(fake_api, report(), "changed")  # the image changed: a comment
    assert methods(fake_api) == ["POST"]
    post(fake_api, report(same_image=True), "changed")  # back to the baseline's image: the comment follows
    assert methods(fake_api) == ["POST", "PUT"]
    (note,) = fake_api.state.notes[("5", "7")]
    assert MARKER in note["body"] and "| layers | 5 | 5 | ±0 |" in note["body"]


def test_failed_creates_a_comment_only_for_a_failed_gate_and_then_keeps_it_current(fake_api) -> None:
    fake_api.add_merge_request("5", 7)
    post(fake_api, report(passed=True), "failed")
    assert methods(fake_api) == []
    post(fake_api, report(passed=False), "failed")
    post(fake_api, report(passed=True), "failed")  # fixed: the comment says so instead of going stale
    assert methods(fake_api) == ["POST", "PUT"]
    (note,) = fake_api.state.notes[("5", "7")]
    assert "✅ gate passed" in note["body"]


def test_always_posts_an_unchanged_image(fake_api) -> None:
    fake_api.add_merge_request("5", 7)
    post(fake_api, report(same_image=True), "always")
    assert methods(fake_api) == ["POST"]


def fork_event(tmp_path: Path, fork: bool) -> str:
    event = tmp_path / "fork-event.json"
    head = "someone/mono" if fork else "shop/mono"
    pull = {"number": 12, "head": {"repo": {"full_name": head}}, "base": {"repo": {"full_name": "shop/mono"}}}
    event.write_text(json.dumps({"action": "opened", "number": 12, "pull_request": pull}))
    return str(event)


@pytest.mark.parametrize("fork", [True, False])
def test_a_github_pull_request_from_a_fork_gets_the_summary_only(fake_api, analyses, tmp_path, fork) -> None:
    fake_api.add_pull_request("shop/mono", 12)
    summary = tmp_path / "summary.md"
    env = {**github_env(fake_api, tmp_path), "GITHUB_EVENT_PATH": fork_event(tmp_path, fork)}
    env["GITHUB_STEP_SUMMARY"] = str(summary)
    html = tmp_path / "out" / "boxwise-report.html"
    result = cli_report(analyses, env, "--post", "auto", "--html", str(html))
    assert result.returncode == 0, result.stderr
    if not fork:  # the control: the same run from the repository itself comments
        assert "created the api comment" in result.stderr
        return
    assert fake_api.state.requests == []  # not one API call
    reason = "the pull request comes from a fork, whose GITHUB_TOKEN may not comment"
    assert f"boxwise: no comment posted: {reason}; the report is in the job summary and artifacts" in (
        result.stderr
    )
    assert summary.read_text().startswith(f"> 🔒 **No comment posted:** {reason}.")
    assert "### boxwise · `api`" in summary.read_text()
    assert f"No comment posted: {reason}." in html.read_text()


def test_a_gitlab_fork_pipeline_and_the_summary_flag_post_nothing(fake_api, analyses) -> None:
    fake_api.add_merge_request("5", 7)
    env = {**gitlab_env(fake_api), "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "9", "CI_PROJECT_ID": "9"}
    forked = cli_report(analyses, env, "--post", "auto")
    assert forked.returncode == 0, forked.stderr
    assert "the merge request comes from a fork, and its pipeline runs there" in forked.stderr
    asked = cli_report(analyses, gitlab_env(fake_api), "--post", "summary")
    assert asked.returncode == 0, asked.stderr
    assert "no comment posted: summary-only mode (--post summary)" in asked.stderr
    assert fake_api.state.requests == []


def test_post_when_comes_from_pyproject_and_a_bad_value_is_one_line(
    make_git_repo, fake_api, analyses
) -> None:
    fake_api.add_merge_request("5", 7)
    repo = make_git_repo({"pyproject.toml": '[tool.boxwise.report]\npost = "gitlab"\npost-when = "failed"\n'})
    args = ("report", str(analyses["new"]), "--app", "api")  # no baseline: default rules pass
    quiet = run_boxwise(*args, cwd=repo, env=gitlab_env(fake_api))
    assert quiet.returncode == 0, quiet.stderr
    assert "no api comment created (post-when = failed: the gate passed)" in quiet.stderr
    loud = run_boxwise(*args, "--post-when", "always", cwd=repo, env=gitlab_env(fake_api))
    assert "created the api comment" in loud.stderr  # the flag wins over the file

    (repo / "pyproject.toml").write_text('[tool.boxwise.report]\npost-when = "sometimes"\n')
    bad = run_boxwise(*args, cwd=repo)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == (
        f"boxwise: error: {repo / 'pyproject.toml'}: [tool.boxwise.report] post-when = 'sometimes'; "
        "use one of always, changed, failed"
    )
