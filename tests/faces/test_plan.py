"""`boxwise plan`: which apps a change touches, as JSON, a GitHub matrix or a GitLab child pipeline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from support.webapp import serve_main

from .facelib import check_jsonschema, commit_files, git, gitlab_ci_local_command, run_boxwise, tool_env

NO_CI = {
    "CI_MERGE_REQUEST_DIFF_BASE_SHA": "",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "",
    "GITHUB_BASE_REF": "",
}


def plan(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_boxwise("plan", *args, cwd=repo, env={**NO_CI, **(env or {})})


def test_outside_a_change_every_app_is_planned(sample_repo: Path) -> None:
    result = plan(sample_repo)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [app["name"] for app in report["apps"]] == ["apps/api", "apps/worker"]
    assert report["changed_since"] is None


def test_a_change_to_one_app_plans_only_that_app(sample_repo: Path) -> None:
    base = git(sample_repo, "rev-parse", "HEAD").strip()
    commit_files(sample_repo, {"apps/worker/worker/__main__.py": serve_main("worker v2")}, "worker v2")

    result = plan(sample_repo, "--format", "github-matrix", "--changed-since", base)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"include": [{"app": "apps/worker", "slug": "apps-worker"}]}
    assert result.stdout.count("\n") == 1  # one line, as $GITHUB_OUTPUT needs


def test_the_merge_request_base_comes_from_the_gitlab_variables(sample_repo: Path) -> None:
    base = git(sample_repo, "rev-parse", "HEAD").strip()
    commit_files(sample_repo, {"apps/api/api/__main__.py": serve_main("api v2")}, "api v2")

    result = plan(sample_repo, env={"CI_MERGE_REQUEST_DIFF_BASE_SHA": base})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [app["name"] for app in report["apps"]] == ["apps/api"]
    assert report["changed_since"] == base


def test_named_apps_skip_git(sample_repo: Path) -> None:
    result = plan(sample_repo, "--apps", "apps/worker", "--format", "github-matrix")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["include"] == [{"app": "apps/worker", "slug": "apps-worker"}]


def test_no_change_gives_an_empty_matrix_and_a_valid_no_op_child_pipeline(sample_repo: Path) -> None:
    matrix = plan(sample_repo, "--format", "github-matrix", "--changed-since", "HEAD")
    assert matrix.returncode == 0, matrix.stderr
    assert matrix.stdout.strip() == '{"include":[]}'  # what docs/github-action.md's workflow `if:` compares

    child = sample_repo / "child.yml"
    result = plan(sample_repo, "--format", "gitlab-child", "--changed-since", "HEAD", "--output", str(child))
    assert result.returncode == 0, result.stderr
    jobs = {name: job for name, job in yaml.safe_load(child.read_text()).items()}
    assert list(jobs) == ["boxwise-no-app-changed"]
    checked = check_jsonschema("vendor.gitlab-ci", child, transform="gitlab-ci")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The no-op pipeline really runs.
    (sample_repo / ".gitlab-ci.yml").write_text(child.read_text())
    ran = subprocess.run(
        [*gitlab_ci_local_command(), "--force-shell-executor", "--no-color"],
        cwd=sample_repo,
        capture_output=True,
        text=True,
        env=tool_env(),
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "no app changed" in ran.stdout


def test_child_pipeline_has_one_build_job_per_app_with_the_plan_jobs_settings(sample_repo: Path) -> None:
    child = sample_repo / "child.yml"
    env = {
        "BOXWISE_ENGINE": "dind",
        "BOXWISE_DIND_IMAGE": "docker:27-dind",
        "BOXWISE_JOB_IMAGE": "python:3.12-slim",
        "BOXWISE_INSTALL": "python3 -m pip install --quiet boxwise",
        "BOXWISE_LOWEST_EFFICIENCY": "0.9",
        "BOXWISE_IMAGE_PREFIX": "registry.example.com/acme/shop",
        "BOXWISE_POST": "auto",
        "BOXWISE_BASE": "",
        "BOXWISE_BUILDER": "registry.example.com/tools/builder:1",
    }
    result = plan(sample_repo, "--format", "gitlab-child", "--output", str(child), env=env)
    assert result.returncode == 0, result.stderr
    pipeline = yaml.safe_load(child.read_text())
    assert sorted(pipeline) == ["boxwise-build-apps-api", "boxwise-build-apps-worker"]

    api = pipeline["boxwise-build-apps-api"]
    assert api["image"] == "python:3.12-slim"
    assert api["services"] == [{"name": "docker:27-dind", "alias": "docker"}]
    assert api["variables"]["DOCKER_HOST"] == "tcp://docker:2375"
    assert api["before_script"] == ["python3 -m pip install --quiet boxwise"]
    command = api["script"][0]
    assert command.startswith("boxwise ci --apps apps/api ")
    assert "--lowestEfficiency 0.9" in command
    assert "--tag-prefix registry.example.com/acme/shop" in command
    assert "--builder registry.example.com/tools/builder:1" in command
    assert "--base" not in command  # an empty setting leaves the repo's configuration in charge
    assert set(api["artifacts"]["reports"]) == {"junit", "codequality", "metrics"}

    checked = check_jsonschema("vendor.gitlab-ci", child, transform="gitlab-ci")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_runners_engine_means_no_dind_service(sample_repo: Path) -> None:
    child = sample_repo / "child.yml"
    host = {"BOXWISE_ENGINE": "host"}
    result = plan(sample_repo, "--format", "gitlab-child", "--output", str(child), env=host)
    assert result.returncode == 0, result.stderr
    for job in yaml.safe_load(child.read_text()).values():
        assert "services" not in job
        assert "DOCKER_HOST" not in job["variables"]
        assert "image" not in job


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--changed-since", "main;rm -rf /"], {}, "--changed-since"),
        (["--format", "gitlab-child"], {"BOXWISE_ENGINE": "podman"}, "BOXWISE_ENGINE"),
        (["--apps", "apps/nope"], {}, "apps/nope"),
        (["--output", "/proc/boxwise-plan.json"], {}, "/proc/boxwise-plan.json"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(sample_repo: Path, args: list[str], env: dict, says: str) -> None:
    result = plan(sample_repo, *args, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("policy", ["pull-push", "pull"], ids=["default-branch", "merge-request"])
def test_child_jobs_keep_each_apps_cache_image_and_local_cache_saved_on_the_default_branch_only(
    sample_repo: Path, policy: str
) -> None:
    child = sample_repo / "child.yml"
    env = {
        "BOXWISE_IMAGE_PREFIX": "registry.example.com/acme/shop",
        "BOXWISE_CACHE_TAG": "boxwise-cache",
        "BOXWISE_LOCAL_CACHE": "true",
        "BOXWISE_CACHE_POLICY": policy,  # what the template's rules give the plan job
    }
    result = plan(sample_repo, "--format", "gitlab-child", "--output", str(child), env=env)
    assert result.returncode == 0, result.stderr
    pipeline = yaml.safe_load(child.read_text())
    for slug in ("apps-api", "apps-worker"):
        job = pipeline[f"boxwise-build-{slug}"]
        assert "--cache-tag boxwise-cache" in job["script"][0]
        assert job["cache"] == {
            "key": f"boxwise-{slug}",
            "paths": [".boxwise-cache/boxwise"],
            "policy": policy,
        }
        assert job["variables"]["XDG_CACHE_HOME"] == "$CI_PROJECT_DIR/.boxwise-cache"
    checked = check_jsonschema("vendor.gitlab-ci", child, transform="gitlab-ci")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    no_cache = {**env, "BOXWISE_LOCAL_CACHE": "false"}
    result = plan(sample_repo, "--format", "gitlab-child", "--output", str(child), env=no_cache)
    assert "cache" not in yaml.safe_load(child.read_text())["boxwise-build-apps-api"]
