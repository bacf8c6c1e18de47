"""The GitHub face: action/action.yml checked against the schema, the README workflow linted, and
the action's run steps executed on a sample repo with a GitHub-like runner environment."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.webapp import serve_main

from boxwise.plan import Plan, as_github_matrix

from .actionrun import Runner, StepFailed, load_action, run_action, run_step
from .facelib import (
    ACTION,
    REPO,
    actionlint,
    check_jsonschema,
    commit_files,
    git,
    load_fakeapi,
    readme_yaml_blocks,
    tool_env,
)

SECTION = "GitHub Action"
PR_NUMBER = 12
GITHUB_REPOSITORY = "acme/shop"
IMAGE_PREFIX = "boxwise-test-faces"  # the session removes what it builds under this name


def readme_workflow() -> str:
    blocks = [block for block in readme_yaml_blocks(SECTION) if "jobs:" in block]
    assert len(blocks) == 1, f"README ## {SECTION} should hold exactly one example workflow"
    return blocks[0]


# ------------------------------------------------------------------------------ static checks


def test_action_yml_matches_the_github_action_schema() -> None:
    result = check_jsonschema("vendor.github-actions", ACTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_workflow_passes_actionlint_and_the_workflow_schema(tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "boxwise.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(readme_workflow())
    assert actionlint(workflow) == []
    result = check_jsonschema("vendor.github-workflows", workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_really_reports_problems(tmp_path: Path) -> None:
    # The linter is only worth something if it catches a script injection like this one.
    workflow = tmp_path / "bad.yml"
    workflow.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    assert [problem["kind"] for problem in actionlint(workflow)] == ["expression"]


def test_readme_workflow_fans_out_with_write_permission_and_only_declared_inputs() -> None:
    workflow = yaml.safe_load(readme_workflow())
    assert workflow["permissions"]["pull-requests"] == "write"
    build = workflow["jobs"]["build"]
    assert build["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert build["needs"] == "plan"
    # An empty matrix is an error on GitHub: the job is skipped on exactly what an empty plan prints.
    empty = as_github_matrix(Plan((), None)).strip()
    assert build["if"] == f"needs.plan.outputs.matrix != '{empty}'"

    declared = set(load_action(ACTION)["inputs"])
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    uses = [step for step in steps if "boxwise/action@" in step.get("uses", "")]
    assert len(uses) == 2
    for step in uses:
        assert set(step.get("with", {})) <= declared, step


# ------------------------------------------------------------------------------ the run steps


@pytest.fixture(scope="session")
def installed_path(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Run the action's install step once: boxwise from the action's own ref into a virtualenv.

    Returns what it added to GITHUB_PATH; the tests' jobs start from there.
    """
    action = load_action(ACTION)
    temp = tmp_path_factory.mktemp("runner-temp")
    runner = Runner(temp, temp, REPO / "action", "unused", {**tool_env(), "GITHUB_ACTIONS": "true"})
    result = run_step(action["runs"]["steps"][0], runner, {})
    assert result.returncode == 0, "\n".join(runner.logs)
    return [line for line in runner.file("path").read_text().splitlines() if line]


def test_install_step_installs_boxwise_from_the_actions_own_ref(installed_path: list[str]) -> None:
    assert len(installed_path) == 1
    venv_bin = Path(installed_path[0])
    python = venv_bin / "python"
    code = "import boxwise, json; print(json.dumps([boxwise.__file__, boxwise.__version__]))"
    shown = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    where = json.loads(shown.stdout)
    # A real (non-editable) install inside the runner's temp folder, not this checkout's src/.
    assert where[0].startswith(str(venv_bin.parent)), where
    assert (venv_bin / "boxwise").exists()
    from boxwise import __version__

    assert where[1] == __version__


@pytest.fixture
def pull_request(make_git_repo, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A sample repo checked out on a PR branch whose base is origin/main, and its event payload."""
    from .facelib import SAMPLE_APPS

    repo = make_git_repo(SAMPLE_APPS, name="shop")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "checkout", "-q", "-b", "feature")
    commit_files(repo, {"apps/worker/worker/__main__.py": serve_main("worker v2")}, "worker v2")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"number": PR_NUMBER, "pull_request": {"number": PR_NUMBER}}))
    yield repo, event


def make_runner(repo: Path, event: Path, installed: list[str], tmp_path: Path, **env: str) -> Runner:
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    base_env = {
        **tool_env(),
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": "feature",
        "GITHUB_REPOSITORY": GITHUB_REPOSITORY,
        **env,
    }
    runner = Runner(repo, temp, REPO / "action", env.get("GITHUB_TOKEN", "ghs_unused"), base_env)
    runner.file("path").write_text("".join(f"{line}\n" for line in installed))  # the install step ran
    return runner


def test_plan_mode_outputs_the_matrix_of_the_apps_the_pull_request_touches(
    pull_request: tuple[Path, Path], installed_path: list[str], tmp_path: Path
) -> None:
    repo, event = pull_request
    runner = make_runner(repo, event, installed_path, tmp_path)
    outputs = run_action(load_action(ACTION), runner, {"mode": "plan"}, first_step=1)
    assert json.loads(outputs["matrix"]) == {"include": [{"app": "apps/worker", "slug": "apps-worker"}]}


def test_an_unknown_mode_fails_the_step_with_one_line(
    pull_request: tuple[Path, Path], installed_path: list[str], tmp_path: Path
) -> None:
    repo, event = pull_request
    runner = make_runner(repo, event, installed_path, tmp_path)
    with pytest.raises(StepFailed) as failed:
        run_action(load_action(ACTION), runner, {"mode": "deploy"}, first_step=1)
    assert failed.value.code == 2
    assert "mode must be ci or plan" in failed.value.log


@pytest.fixture
def fake_github() -> Iterator:
    server = load_fakeapi().FakeServer().start()
    server.add_pull_request(GITHUB_REPOSITORY, PR_NUMBER)
    yield server
    server.stop()


@pytest.mark.engine
def test_ci_mode_builds_the_changed_app_comments_once_and_sets_the_outputs(
    pull_request: tuple[Path, Path], installed_path: list[str], tmp_path: Path, fake_github, python_base: str
) -> None:
    repo, event = pull_request
    token = fake_github.state.github_token
    runner = make_runner(
        repo, event, installed_path, tmp_path, GITHUB_API_URL=f"{fake_github.url}/gh", GITHUB_TOKEN=token
    )
    action = load_action(ACTION)
    inputs = {"token": token, "comment": "true", "lowest-efficiency": "0.5", "image-prefix": IMAGE_PREFIX}
    try:
        outputs = run_action(action, runner, inputs, first_step=1)
    except StepFailed as failed:
        pytest.fail(failed.log)
    log = "\n".join(runner.logs)

    assert outputs["verdict"] == "pass", log
    assert int(outputs["size"]) > 0
    assert 0 < float(outputs["efficiency"]) <= 1
    assert [app["app"] for app in json.loads(outputs["apps"])] == ["apps/worker"]
    summary = runner.file("step_summary").read_text()
    assert "apps/worker" in summary
    comments = fake_github.state.comments[(GITHUB_REPOSITORY, str(PR_NUMBER))]
    assert len(comments) == 1 and "apps/worker" in comments[0]["body"]
    assert token not in log

    # A second push edits the same comment instead of adding one.
    runner.logs.clear()
    run_action(action, runner, inputs, first_step=1)
    assert len(fake_github.state.comments[(GITHUB_REPOSITORY, str(PR_NUMBER))]) == 1


@pytest.mark.engine
def test_comment_false_posts_nothing_but_still_writes_the_summary(
    pull_request: tuple[Path, Path], installed_path: list[str], tmp_path: Path, fake_github, python_base: str
) -> None:
    repo, event = pull_request
    token = fake_github.state.github_token
    runner = make_runner(
        repo, event, installed_path, tmp_path, GITHUB_API_URL=f"{fake_github.url}/gh", GITHUB_TOKEN=token
    )
    try:
        inputs = {"token": token, "comment": "false", "image-prefix": IMAGE_PREFIX}
        run_action(load_action(ACTION), runner, inputs, first_step=1)
    except StepFailed as failed:
        pytest.fail(failed.log)
    assert fake_github.state.comments[(GITHUB_REPOSITORY, str(PR_NUMBER))] == []
    assert not [r for r in fake_github.state.requests if r.method in ("POST", "PATCH")]
    assert "apps/worker" in runner.file("step_summary").read_text()
