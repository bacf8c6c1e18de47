"""The GitHub face: action/action.yml checked against the schema, the documented workflows linted, and
the action's run steps executed on a sample repo with a GitHub-like runner environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from support.docs import DOCS, README, fenced_blocks, section
from support.webapp import serve_main

from boxwise.plan import Plan, as_github_matrix

from .actionrun import Runner, StepFailed, load_action, run_action, step_index
from .facelib import (
    ACTION,
    ACTION_COPY,
    REPO,
    actionlint,
    check_jsonschema,
    commit_files,
    git,
    load_fakeapi,
    runner_env,
    tool_env,
)

# One worker of `-n 2` runs this module (`--dist loadgroup`), so its session fixture is made
# once, not once per worker: the action's install step (a venv and a pip install of boxwise).
pytestmark = pytest.mark.xdist_group("github-install")

PAGE = DOCS / "github-action.md"
README_SECTION = "## GitHub Action"
# The README's one-job workflow and the page's monorepo workflow (plan, then one job per app).
WORKFLOWS = {"readme": (README, README_SECTION), "docs": (PAGE, None)}
PR_NUMBER = 12
GITHUB_REPOSITORY = "acme/shop"
IMAGE_PREFIX = "boxwise-test-faces"  # the session removes what it builds under this name


def documented_workflow(where: str) -> str:
    path, heading = WORKFLOWS[where]
    blocks = [block for block in fenced_blocks(path, heading) if "jobs:" in block]
    assert len(blocks) == 1, f"{path.name} {heading or ''} should hold exactly one example workflow"
    return blocks[0]


# ------------------------------------------------------------------------------ static checks


def test_action_yml_matches_the_github_action_schema() -> None:
    for path in (ACTION, ACTION_COPY):
        result = check_jsonschema("vendor.github-actions", path)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_marketplace_action_is_at_the_root_and_action_folder_is_its_generated_copy() -> None:
    # The Marketplace lists only an action.yml at the repository root, with a name, a description
    # and branding; action/action.yml (uses: OWNER/boxwise/action@REF) is generated from it.
    action = load_action(ACTION)
    assert action["name"] and action["description"] and set(action["branding"]) == {"icon", "color"}
    checked = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "sync_faces.py"), "--check"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    copy = load_action(ACTION_COPY)
    assert {k: v for k, v in copy.items() if k != "runs"} == {k: v for k, v in action.items() if k != "runs"}


def test_outputs_have_one_name_each_and_every_one_is_documented() -> None:
    outputs = load_action(ACTION)["outputs"]
    assert set(outputs) == {
        "size-bytes",
        "efficiency",
        "verdict",
        "apps",
        "report-path",
        "json-path",
        "matrix",
    }
    page = section(PAGE)
    for name in outputs:
        assert f"`{name}`" in page, f"output {name} is not in {PAGE.name}"
        assert outputs[name]["value"] == f"${{{{ steps.boxwise.outputs.{name} }}}}"
    assert "outputs.size " not in page and "outputs.size}" not in page


@pytest.mark.parametrize("where", WORKFLOWS)
def test_documented_workflow_passes_actionlint_and_the_workflow_schema(where: str, tmp_path: Path) -> None:
    workflow = tmp_path / ".github" / "workflows" / "boxwise.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(documented_workflow(where))
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


@pytest.mark.parametrize("where", WORKFLOWS)
def test_documented_workflow_may_comment_and_gives_the_action_only_declared_inputs(where: str) -> None:
    workflow = yaml.safe_load(documented_workflow(where))
    assert workflow["permissions"]["pull-requests"] == "write"
    declared = set(load_action(ACTION)["inputs"])
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    # the merge base must be in the clone, else boxwise cannot tell what the pull request changed
    checkouts = [step for step in steps if step.get("uses", "").startswith("actions/checkout@")]
    assert checkouts and all(step["with"]["fetch-depth"] == 0 for step in checkouts)
    uses = [step for step in steps if step.get("uses", "").split("@")[0].endswith("/boxwise")]
    assert uses
    for step in uses:
        assert set(step.get("with", {})) <= declared, step


def test_the_monorepo_workflow_fans_out_one_job_per_planned_app() -> None:
    workflow = yaml.safe_load(documented_workflow("docs"))
    build = workflow["jobs"]["build"]
    assert build["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert build["needs"] == "plan"
    # An empty matrix is an error on GitHub: the job is skipped on exactly what an empty plan prints.
    empty = as_github_matrix(Plan((), None)).strip()
    assert build["if"] == f"needs.plan.outputs.matrix != '{empty}'"
    plan = workflow["jobs"]["plan"]
    assert [step["with"] for step in plan["steps"] if step.get("id") == "plan"] == [{"mode": "plan"}]


def test_the_layer_cache_is_restored_before_boxwise_runs_and_its_registry_login_is_ghcr_only() -> None:
    action = load_action(ACTION)
    steps = action["runs"]["steps"]
    cache = steps[step_index(action, "boxwise") - 1]
    assert cache["uses"] == "actions/cache@v4" and cache["if"] == "inputs.local-cache == 'true'"
    assert cache["with"]["path"] == "~/.cache/boxwise"  # $XDG_CACHE_HOME/boxwise on a hosted runner
    env = steps[step_index(action, "boxwise")]["env"]
    assert env["BOXWISE_REGISTRY"] == "ghcr.io"  # the token goes to GHCR, never to another registry
    assert action["inputs"]["image-prefix"]["default"] == "ghcr.io/${{ github.repository }}"
    assert action["inputs"]["cache-tag"]["default"] == "boxwise-cache"


# ------------------------------------------------------------------------------ the run steps


SETUP_STEPS = step_index(load_action(ACTION), "boxwise")  # every step before `Run boxwise`


def setup_python_stand_in(runner: Runner, given: dict[str, str]) -> dict[str, str]:
    """actions/setup-python, as far as this action uses it: a Python of the tool cache, its path as
    the `python-path` output, the job's PATH left alone (update-environment: false). The Python
    these tests run on plays the one it would download (nothing can be downloaded here)."""
    assert given == {"python-version": "3.12", "update-environment": "false"}
    real = Path(os.path.realpath(sys.executable))
    return {"python-version": ".".join(map(str, sys.version_info[:3])), "python-path": str(real)}


def no_python_path(folder: Path) -> str:
    """This machine's PATH as one folder of links, minus python*, pip* and boxwise: a runner image
    that has git, docker and a shell but no Python at all."""
    folder.mkdir()
    for directory in tool_env()["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            name = entry.name
            if name.startswith(("python", "pip", "boxwise")) or (folder / name).exists():
                continue
            if os.access(entry.path, os.X_OK) and not entry.is_dir():
                (folder / name).symlink_to(entry.path)
    return str(folder)


def runner_for_setup(temp: Path, path: str | None = None) -> Runner:
    env = {**runner_env(), "GITHUB_ACTIONS": "true", **({"PATH": path} if path else {})}
    runner = Runner(temp, temp, REPO, "unused", env)
    runner.actions["actions/setup-python"] = setup_python_stand_in
    return runner


@dataclass(frozen=True)
class Installed:
    """What the action's setup steps left on a runner that had no Python of its own."""

    path: str  # the runner's PATH (no python3 on it)
    added: list[str]  # what the steps added to GITHUB_PATH: the venv's bin/


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Run the action's setup steps once on a runner without Python: setup-python's Python, then
    boxwise from the action's own ref into a virtualenv. The tests' jobs start from there."""
    path = no_python_path(tmp_path_factory.mktemp("runner") / "bin")
    assert subprocess.run(["bash", "-c", "command -v python3"], env={"PATH": path}).returncode == 1
    runner = runner_for_setup(tmp_path_factory.mktemp("runner-temp"), path)
    try:
        run_action(load_action(ACTION), runner, {}, until=SETUP_STEPS)
    except StepFailed as failed:
        pytest.fail(failed.log)
    assert runner.outputs["python"] == {"found": "false"}
    assert "Set up Python (the runner has none)" in runner.ran
    assert not runner.file("env").read_text()  # update-environment: false: the job's env untouched
    return Installed(path, [line for line in runner.file("path").read_text().splitlines() if line])


@pytest.fixture(scope="session")
def installed_path(installed: Installed) -> list[str]:
    return installed.added


def test_a_runner_with_python_uses_it_and_skips_setup_python(tmp_path: Path) -> None:
    runner = runner_for_setup(tmp_path)
    action = load_action(ACTION)
    run_action(action, runner, {}, until=step_index(action, "setup-python") + 1)
    assert runner.outputs["python"] == {"found": "true"}
    assert runner.ran == ["Look for a python3 >= 3.10 with venv on the runner"]


@pytest.mark.slow
def test_install_step_installs_boxwise_from_the_actions_own_ref(installed: Installed) -> None:
    assert len(installed.added) == 1
    venv_bin = Path(installed.added[0])
    python = venv_bin / "python"
    code = "import boxwise, json; print(json.dumps([boxwise.__file__, boxwise.__version__]))"
    shown = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, env=runner_env()
    )
    where = json.loads(shown.stdout)
    # A real (non-editable) install inside the runner's temp folder, not this checkout's src/.
    assert where[0].startswith(str(venv_bin.parent)), where
    assert (venv_bin / "boxwise").exists()
    from boxwise import __version__

    assert where[1] == __version__
    # The virtualenv is made from setup-python's Python, the runner having none.
    config = (venv_bin.parent / "pyvenv.cfg").read_text()
    assert f"home = {Path(os.path.realpath(sys.executable)).parent}" in config
    # That Python's pip (23.2 here) installed into it: no ensurepip, so no pip in the venv.
    assert not list(venv_bin.parent.glob("lib/python*/site-packages/pip"))


@pytest.mark.slow
def test_the_action_runs_on_a_runner_without_python(
    installed: Installed, make_git_repo, tmp_path: Path
) -> None:
    from .facelib import SAMPLE_APPS

    repo = make_git_repo(SAMPLE_APPS, name="shop")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    runner = Runner(
        repo, temp, REPO, "unused", {**runner_env(), "GITHUB_ACTIONS": "true", "PATH": installed.path}
    )
    runner.file("path").write_text("".join(f"{line}\n" for line in installed.added))
    outputs = run_action(load_action(ACTION), runner, {"mode": "plan"}, first_step=SETUP_STEPS)
    matrix = json.loads(outputs["matrix"])
    assert [leg["app"] for leg in matrix["include"]] == ["apps/api", "apps/worker"]


def pull_request_event(head_repository: str) -> dict:
    """The `pull_request` event payload, as far as boxwise reads it (a fork: another head repo)."""
    head, base = ({"repo": {"full_name": name}} for name in (head_repository, GITHUB_REPOSITORY))
    pull = {"number": PR_NUMBER, "head": head, "base": base}
    return {"number": PR_NUMBER, "pull_request": pull}


@pytest.fixture
def pull_request(make_git_repo, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A sample repo checked out on a PR branch whose base is origin/main, and its event payload."""
    from .facelib import SAMPLE_APPS

    repo = make_git_repo(SAMPLE_APPS, name="shop")
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "checkout", "-q", "-b", "feature")
    commit_files(repo, {"apps/worker/worker/__main__.py": serve_main("worker v2")}, "worker v2")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(pull_request_event(GITHUB_REPOSITORY)))
    yield repo, event


def make_runner(repo: Path, event: Path, installed: list[str], tmp_path: Path, **env: str) -> Runner:
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    base_env = {
        **runner_env(),
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": "feature",
        "GITHUB_REPOSITORY": GITHUB_REPOSITORY,
        **env,
    }
    runner = Runner(repo, temp, REPO, env.get("GITHUB_TOKEN", "ghs_unused"), base_env)
    runner.file("path").write_text("".join(f"{line}\n" for line in installed))  # the install step ran
    return runner


@pytest.mark.slow
def test_plan_mode_outputs_the_matrix_of_the_apps_the_pull_request_touches(
    pull_request: tuple[Path, Path], installed_path: list[str], tmp_path: Path
) -> None:
    repo, event = pull_request
    runner = make_runner(repo, event, installed_path, tmp_path)
    outputs = run_action(load_action(ACTION), runner, {"mode": "plan"}, first_step=SETUP_STEPS)
    assert json.loads(outputs["matrix"]) == {"include": [{"app": "apps/worker", "slug": "apps-worker"}]}


@pytest.mark.slow
def test_an_unknown_mode_fails_the_step_with_one_line(
    pull_request: tuple[Path, Path], installed_path: list[str], tmp_path: Path
) -> None:
    repo, event = pull_request
    runner = make_runner(repo, event, installed_path, tmp_path)
    with pytest.raises(StepFailed) as failed:
        run_action(load_action(ACTION), runner, {"mode": "deploy"}, first_step=SETUP_STEPS)
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
        outputs = run_action(action, runner, inputs, first_step=SETUP_STEPS)
    except StepFailed as failed:
        pytest.fail(failed.log)
    log = "\n".join(runner.logs)

    assert outputs["verdict"] == "pass", log
    assert int(outputs["size-bytes"]) > 0
    assert 0 < float(outputs["efficiency"]) <= 1
    apps = json.loads(outputs["apps"])
    assert [app["app"] for app in apps] == ["apps/worker"]
    assert apps[0]["size-bytes"] == int(outputs["size-bytes"])  # one name for one figure everywhere
    summary = runner.file("step_summary").read_text()
    assert "apps/worker" in summary
    # The report as files, for a sticky-comment action or an artifact upload.
    report = Path(outputs["report-path"]).read_text()
    assert "apps/worker" in report and report.strip() in summary
    assert "apps/worker" in json.dumps(json.loads(Path(outputs["json-path"]).read_text()))
    comments = fake_github.state.comments[(GITHUB_REPOSITORY, str(PR_NUMBER))]
    assert len(comments) == 1 and "apps/worker" in comments[0]["body"]
    assert token not in log
    # the HTML report is written for the upload step (a `uses:` step: not run here)
    assert "<h2>apps/worker" in (repo / "boxwise-report.html").read_text()
    assert "uses actions/upload-artifact@v4 (not run here)" in log

    # A second push edits the same comment instead of adding one.
    runner.logs.clear()
    run_action(action, runner, inputs, first_step=SETUP_STEPS)
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
        run_action(load_action(ACTION), runner, inputs, first_step=SETUP_STEPS)
    except StepFailed as failed:
        pytest.fail(failed.log)
    assert fake_github.state.comments[(GITHUB_REPOSITORY, str(PR_NUMBER))] == []
    assert not [r for r in fake_github.state.requests if r.method in ("POST", "PATCH")]
    assert "apps/worker" in runner.file("step_summary").read_text()


@pytest.mark.engine
def test_comment_true_on_a_fork_posts_nothing_and_says_so_in_the_summary(
    pull_request: tuple[Path, Path], installed_path: list[str], tmp_path: Path, fake_github, python_base: str
) -> None:
    # `--post auto` sees the fork; `--post github` (the action's old choice) would try and fail.
    repo, event = pull_request
    event.write_text(json.dumps(pull_request_event("someone/shop")))
    token = fake_github.state.github_token
    runner = make_runner(
        repo, event, installed_path, tmp_path, GITHUB_API_URL=f"{fake_github.url}/gh", GITHUB_TOKEN=token
    )
    inputs = {"token": token, "comment": "true", "image-prefix": IMAGE_PREFIX}
    try:
        outputs = run_action(load_action(ACTION), runner, inputs, first_step=SETUP_STEPS)
    except StepFailed as failed:
        pytest.fail(failed.log)
    assert not [r for r in fake_github.state.requests if r.method in ("POST", "PATCH")]
    assert "No comment posted" in runner.file("step_summary").read_text()
    assert "apps/worker" in Path(outputs["report-path"]).read_text()


@pytest.mark.engine
def test_a_push_to_main_keeps_the_cache_image_a_pull_request_on_a_fresh_runner_builds_warm_from(
    installed_path: list[str], make_git_repo, tmp_path: Path, local_registry: str, docker_client
) -> None:
    """The action's steps on a push to the default branch push the image and its cache image (the
    `cache-tag` default); the pull request's run on a fresh runner (the engine without the images,
    an empty $XDG_CACHE_HOME) builds a code-only change without pip and writes no cache image."""
    from .facelib import SAMPLE_APPS
    from .test_gitlab import cache_manifest, dependency_diff_id, remove_images

    prefix = f"{local_registry}/boxwise-test-faces-{uuid.uuid4().hex[:8]}"
    repo = make_git_repo(SAMPLE_APPS, name="shop")
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main", "repository": {"default_branch": "main"}}))
    main_env = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF_NAME": "main", "GITHUB_BASE_REF": ""}
    inputs = {"comment": "false", "image-prefix": prefix, "apps": "apps/api"}
    try:
        (tmp_path / "main").mkdir()
        fresh = {"XDG_CACHE_HOME": str(tmp_path / "cache-1")}
        runner = make_runner(repo, push, installed_path, tmp_path / "main", **fresh, **main_env)
        try:
            run_action(load_action(ACTION), runner, inputs, first_step=SETUP_STEPS)
        except StepFailed as failed:
            pytest.fail(failed.log)
        cache_image = f"registry://{prefix}/apps-api:boxwise-cache"
        assert f"{cache_image}: read and written (main is the default branch)" in "\n".join(runner.logs)
        written = cache_manifest(local_registry, prefix)
        remove_images(docker_client, prefix)

        git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
        git(repo, "checkout", "-q", "-b", "feature")
        commit_files(repo, {"apps/api/api/__main__.py": serve_main("api v2")}, "api v2")
        event = tmp_path / "event.json"
        payload = pull_request_event(GITHUB_REPOSITORY)
        event.write_text(json.dumps({**payload, "repository": {"default_branch": "main"}}))
        (tmp_path / "pr").mkdir()
        fresh = {"XDG_CACHE_HOME": str(tmp_path / "cache-2")}  # a fresh runner: an empty cache
        runner = make_runner(repo, event, installed_path, tmp_path / "pr", **fresh)
        try:
            run_action(load_action(ACTION), runner, {**inputs, "apps": ""}, first_step=SETUP_STEPS)
        except StepFailed as failed:
            pytest.fail(failed.log)
        log = "\n".join(runner.logs)
        assert f"restore: 2 cached layer(s) from the cache image {cache_image}" in log
        assert "$ pip install" not in log
        assert "fast path: every dependency layer keeps its key" in log  # no build container either
        assert f"{cache_image}: read only in a merge request" in log
        assert cache_manifest(local_registry, prefix) == written
        commit = git(repo, "rev-parse", "HEAD")[:8]
        built = docker_client.images.get(f"{prefix}/apps-api:ci-{commit}")
        baseline = docker_client.images.get(f"{prefix}/apps-api:main")  # pulled back as the baseline
        assert dependency_diff_id(built) == dependency_diff_id(baseline)
    finally:
        remove_images(docker_client, prefix)
