"""The GitLab face: gitlab-ci/boxwise.yml run for real by gitlab-ci-local on a sample repo.

The pipelines are docs/gitlab-ci.md's snippets as written (the README's include is one of them).
Their includes (the classic `project:` include and the CI/CD component of root templates/) are
fetched by gitlab-ci-local from a stand-in GitLab holding this checkout as its boxwise project
(facelib.GitLabHost), and the jobs install boxwise as the templates' default `install` does: from
that project's archive at the included ref (the component: at its own commit). The only inputs the
tests add say where this machine's engine is and how to name the images; what this machine changes
is where packages come from (CI_SERVER_URL, and pip's build backend from a local folder).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.docs import DOCS, README, fenced_blocks
from support.webapp import serve_main

from boxwise import __version__

from .facelib import (
    BOXWISE_PROJECT,
    COMPONENT,
    REPO,
    TEMPLATE,
    GitLabHost,
    check_jsonschema,
    commit_files,
    git,
    gitlab_ci_local,
    install_pipeline,
    load_fakeapi,
)

# One worker of `-n 2` runs this module (`--dist loadgroup`), so its session fixture is made
# once, not once per worker: the GitLabHost (a snapshot, a job venv, hatchling downloaded).
pytestmark = pytest.mark.xdist_group("gitlab-host")

PAGE = DOCS / "gitlab-ci.md"
README_SECTION = "## GitLab CI"
# Where the engine is on this machine (a real runner uses the default: a docker:dind service) and
# the name of the images (the session removes them).
LOCAL_INPUTS = {"engine": "host", "image-prefix": "boxwise-test-faces"}
# The pipelines whose tests are about what the jobs do run in a job image that has boxwise
# already (GitLabHost.ready_job_python); how the jobs install it is the two install tests' part.
READY_INPUTS = {**LOCAL_INPUTS, "install": "true"}


def ready_pipeline(
    repo: Path, host: GitLabHost, *args: str, variables: dict[str, str], timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """A pipeline installed with READY_INPUTS, run in the job image that has boxwise already."""
    return gitlab_ci_local(
        repo, host, *args, variables=variables, timeout=timeout, job_python=host.ready_job_python
    )


def snippet(kind: str) -> str:
    """docs/gitlab-ci.md's bare include, its include with inputs, or its component include."""
    blocks = fenced_blocks(PAGE)
    chosen = {
        "bare": [b for b in blocks if "project:" in b and "inputs:" not in b],
        "inputs": [b for b in blocks if "project:" in b and "inputs:" in b],
        "component": [b for b in blocks if "component:" in b],
    }[kind]
    assert len(chosen) == 1, f"{PAGE.name} should hold exactly one {kind} include snippet"
    return chosen[0]


def mr_variables(base: str) -> dict[str, str]:
    return {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
    }


# ------------------------------------------------------------------------------ static checks


def test_the_classic_include_is_generated_from_the_component_and_has_not_drifted() -> None:
    checked = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "sync_faces.py"), "--check"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    headers = (path.read_text().split("\n---\n")[0] for path in (COMPONENT, TEMPLATE))
    component, include = map(yaml.safe_load, headers)
    assert component["spec"]["component"] == ["sha"]  # GitLab 18.6's component context
    assert "component" not in include["spec"]  # a classic include has none: boxwise-ref stands in
    assert include["spec"]["inputs"]["boxwise-ref"]["default"] == __version__
    assert set(include["spec"]["inputs"]) - set(component["spec"]["inputs"]) == {"boxwise-ref"}
    assert "$[[ component." not in TEMPLATE.read_text()


@pytest.mark.parametrize("path", [COMPONENT, TEMPLATE], ids=["component", "classic-include"])
def test_both_documents_validate_and_every_input_has_a_default_that_needs_no_pypi_release(
    path: Path, tmp_path: Path
) -> None:
    header_text, body_text = path.read_text().split("\n---\n")
    header = yaml.safe_load(header_text)
    inputs = header["spec"]["inputs"]
    assert {"apps", "base-image", "builder-image", "post", "image-prefix", "engine", "fan-out"} <= set(inputs)
    assert all("default" in spec for spec in inputs.values()), "a bare include must work"
    assert inputs["image-prefix"]["default"] == "$CI_REGISTRY_IMAGE"
    assert inputs["engine"]["default"] == "dind"
    # boxwise comes from the boxwise project itself (no `pip install boxwise==X`, which needs a release).
    assert inputs["install"]["default"] == 'python3 -m pip install --quiet "$BOXWISE_PACKAGE"'
    assert inputs["boxwise-project"]["default"] == BOXWISE_PROJECT
    package = yaml.safe_load(body_text)[".boxwise-job"]["variables"]["BOXWISE_PACKAGE"]
    ref = "$[[ component.sha ]]" if path == COMPONENT else "$[[ inputs.boxwise-ref ]]"
    assert package == f"$CI_SERVER_URL/$[[ inputs.boxwise-project ]]/-/archive/{ref}/boxwise-{ref}.tar.gz"

    # check-jsonschema cannot read a two-document file (check-jsonschema#561): validate each half.
    (tmp_path / "header.yml").write_text(header_text)
    (tmp_path / "body.yml").write_text(body_text)
    for half in ("header.yml", "body.yml"):
        result = check_jsonschema("vendor.gitlab-ci", tmp_path / half, transform="gitlab-ci")
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_every_documented_snippet_is_a_valid_gitlab_ci_file(tmp_path: Path) -> None:
    blocks = fenced_blocks(README, README_SECTION) + fenced_blocks(PAGE)
    for number, block in enumerate(blocks):
        path = tmp_path / f"snippet{number}.gitlab-ci.yml"
        path.write_text(block)
        result = check_jsonschema("vendor.gitlab-ci", path, transform="gitlab-ci")
        assert result.returncode == 0, f"snippet {number}:\n{block}\n{result.stdout}{result.stderr}"


def test_the_readme_include_is_the_component_include_the_pipelines_run() -> None:
    assert fenced_blocks(README, README_SECTION) == [snippet("component")]


# ------------------------------------------------------------------------------ which jobs run


def jobs_that_run(repo: Path, host: GitLabHost, variables: dict[str, str] | None = None) -> set[str]:
    result = gitlab_ci_local(repo, host, "--list-json", variables=variables)
    assert result.returncode == 0, result.stdout + result.stderr
    return {job["name"] for job in json.loads(result.stdout) if job["when"] != "never"}


@pytest.mark.slow
def test_bare_include_runs_in_merge_requests_and_on_the_default_branch_only(
    sample_repo: Path, gitlab_host: GitLabHost
) -> None:
    install_pipeline(sample_repo, snippet("bare"), {})
    base = git(sample_repo, "rev-parse", "HEAD").strip()

    assert jobs_that_run(sample_repo, gitlab_host) == {
        "boxwise-detect",
        "boxwise-build",
    }  # main is the default branch
    assert jobs_that_run(sample_repo, gitlab_host, mr_variables(base)) == {"boxwise-detect", "boxwise-build"}
    git(sample_repo, "checkout", "-q", "-b", "feature")
    assert (
        jobs_that_run(sample_repo, gitlab_host) == set()
    )  # a branch pipeline: the MR pipeline does the work


@pytest.mark.slow
def test_fan_out_replaces_the_build_job_by_a_child_pipeline(
    sample_repo: Path, gitlab_host: GitLabHost
) -> None:
    install_pipeline(sample_repo, snippet("inputs"), {})
    base = git(sample_repo, "rev-parse", "HEAD").strip()
    assert jobs_that_run(sample_repo, gitlab_host, mr_variables(base)) == {
        "boxwise-detect",
        "boxwise-plan",
        "boxwise-apps",
    }


def resolved_jobs(repo: Path, host: GitLabHost) -> dict:
    result = gitlab_ci_local(repo, host, "--preview")
    assert result.returncode == 0, result.stdout + result.stderr
    return yaml.safe_load(result.stdout[result.stdout.index("---") :])


@pytest.mark.slow
def test_default_engine_is_a_dind_service_and_post_false_posts_nothing(
    sample_repo: Path, gitlab_host: GitLabHost
) -> None:
    install_pipeline(sample_repo, snippet("bare"), {"post": False})
    build = resolved_jobs(sample_repo, gitlab_host)["boxwise-build"]
    assert build["services"] == [{"name": "docker:27-dind", "alias": "docker"}]
    assert build["variables"]["DOCKER_HOST"] == "tcp://docker:2375"
    assert build["variables"]["BOXWISE_POST"] == "none"
    assert build["image"] == {"name": "python:3.12-slim"}


@pytest.mark.slow
def test_engine_host_uses_the_runners_docker_host(sample_repo: Path, gitlab_host: GitLabHost) -> None:
    install_pipeline(sample_repo, snippet("bare"), {"engine": "host"})
    build = resolved_jobs(sample_repo, gitlab_host)["boxwise-build"]
    assert "services" not in build
    assert "DOCKER_HOST" not in build["variables"]
    assert build["variables"]["BOXWISE_POST"] == "auto"


# ------------------------------------------------------------------------------ jobs, for real


def job_passed(output: str, job: str, parent: str | None = None) -> bool:
    """The job's PASS line; a child-pipeline job is shown as `[trigger job] -> job`."""
    name = re.escape(f"[{parent}] -> {job}" if parent else job)
    return re.search(rf"PASS\s+{name}\s*$", output, re.M) is not None


def job_failed(output: str, job: str) -> bool:
    return re.search(rf"FAIL\s+{re.escape(job)}\s*$", output, re.M) is not None


@pytest.mark.slow
def test_detect_job_passes_and_leaves_a_codequality_report(
    sample_repo: Path, gitlab_host: GitLabHost
) -> None:
    install_pipeline(sample_repo, snippet("bare"), READY_INPUTS)
    base = git(sample_repo, "rev-parse", "HEAD").strip()
    result = ready_pipeline(
        sample_repo,
        gitlab_host,
        "boxwise-detect",
        variables=mr_variables(base),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert job_passed(result.stdout, "boxwise-detect"), result.stdout
    report = json.loads((sample_repo / "boxwise-detect-codequality.json").read_text())
    assert report == []  # the sample apps are clean


@pytest.mark.slow
def test_component_installs_boxwise_from_its_own_project_at_its_own_commit(
    sample_repo: Path, gitlab_host: GitLabHost, tmp_path: Path
) -> None:
    """The documented component include (the README's too), with no input at all: gitlab-ci-local
    fetches templates/ from the boxwise project at the release tag, GitLab's component context gives
    the tag's commit, and the job installs boxwise from that commit's archive into a job image that
    has none."""
    install_pipeline(sample_repo, snippet("component"), {})
    base = git(sample_repo, "rev-parse", "HEAD").strip()
    assert jobs_that_run(sample_repo, gitlab_host, mr_variables(base)) == {"boxwise-detect", "boxwise-build"}

    job_python = gitlab_host.job_image(tmp_path / "job-image")
    asked = len(gitlab_host.requests)
    result = gitlab_ci_local(
        sample_repo, gitlab_host, "boxwise-detect", variables=mr_variables(base), job_python=job_python
    )
    assert job_passed(result.stdout, "boxwise-detect"), result.stdout + result.stderr
    sha = gitlab_host.sha
    assert gitlab_host.requests[asked:] == [f"/{BOXWISE_PROJECT}/-/archive/{sha}/boxwise-{sha}.tar.gz"]
    installed = list(job_python.parent.glob("lib/python*/site-packages/boxwise-*.dist-info/direct_url.json"))
    assert len(installed) == 1, "boxwise is not installed in the job image"
    assert (
        json.loads(installed[0].read_text())["url"]
        == f"{gitlab_host.url}/{BOXWISE_PROJECT}/-/archive/{sha}/boxwise-{sha}.tar.gz"
    )
    assert json.loads((sample_repo / "boxwise-detect-codequality.json").read_text()) == []


@pytest.mark.slow
def test_classic_include_installs_boxwise_from_the_release_it_includes(
    sample_repo: Path, gitlab_host: GitLabHost
) -> None:
    install_pipeline(sample_repo, snippet("bare"), {})
    base = git(sample_repo, "rev-parse", "HEAD").strip()
    asked = len(gitlab_host.requests)
    result = gitlab_ci_local(sample_repo, gitlab_host, "boxwise-detect", variables=mr_variables(base))
    assert job_passed(result.stdout, "boxwise-detect"), result.stdout + result.stderr
    tag = __version__
    assert gitlab_host.requests[asked:] == [f"/{BOXWISE_PROJECT}/-/archive/{tag}/boxwise-{tag}.tar.gz"]


@pytest.mark.slow
def test_detect_job_fails_on_a_lint_error_and_still_leaves_the_report(
    sample_repo: Path, gitlab_host: GitLabHost
) -> None:
    install_pipeline(sample_repo, snippet("bare"), READY_INPUTS)
    base = git(sample_repo, "rev-parse", "HEAD").strip()
    leak = "--index-url https://deploy:s3cr3t@pypi.example.com/simple\nflask==3.0.3\n"
    commit_files(sample_repo, {"apps/api/requirements.txt": leak}, "private index")

    result = ready_pipeline(
        sample_repo,
        gitlab_host,
        "boxwise-detect",
        variables=mr_variables(base),
    )
    assert job_failed(result.stdout, "boxwise-detect"), result.stdout
    report = json.loads((sample_repo / "boxwise-detect-codequality.json").read_text())
    errors = [entry for entry in report if entry["location"]["path"] == "apps/api/requirements.txt"]
    assert errors and all(entry["severity"] in ("major", "critical", "blocker") for entry in errors)


@pytest.mark.slow
def test_plan_job_triggers_a_no_op_child_pipeline_when_no_app_changed(
    sample_repo: Path, gitlab_host: GitLabHost
) -> None:
    install_pipeline(sample_repo, snippet("inputs"), READY_INPUTS)
    commit_files(sample_repo, {"docs/README.md": "not an app\n"}, "docs only")
    base = git(sample_repo, "rev-parse", "HEAD~1").strip()

    result = ready_pipeline(sample_repo, gitlab_host, variables=mr_variables(base))
    assert result.returncode == 0, result.stdout + result.stderr
    assert job_passed(result.stdout, "boxwise-plan"), result.stdout
    assert "[boxwise-apps] -> boxwise-no-app-changed" in result.stdout
    assert job_passed(result.stdout, "boxwise-no-app-changed", parent="boxwise-apps"), result.stdout
    assert "boxwise-build-apps-" not in result.stdout


@pytest.fixture
def fake_gitlab() -> Iterator:
    server = load_fakeapi().FakeServer().start()
    server.add_merge_request("5", 7)
    yield server
    server.stop()


@pytest.mark.engine
def test_build_job_builds_the_changed_app_reports_and_comments(
    sample_repo: Path, gitlab_host: GitLabHost, python_base: str, fake_gitlab
) -> None:
    install_pipeline(sample_repo, snippet("bare"), READY_INPUTS)
    base = git(sample_repo, "rev-parse", "HEAD").strip()
    commit_files(sample_repo, {"apps/api/api/__main__.py": serve_main("api v2")}, "api v2")
    token = fake_gitlab.state.gitlab_token
    variables = {
        **mr_variables(base),
        "CI_API_V4_URL": f"{fake_gitlab.url}/api/v4",
        "CI_MERGE_REQUEST_PROJECT_ID": "5",
        "GITLAB_TOKEN": token,
    }

    result = ready_pipeline(sample_repo, gitlab_host, "boxwise-build", variables=variables, timeout=1500)
    log = result.stdout + result.stderr
    assert job_passed(result.stdout, "boxwise-build"), log
    for report in ("boxwise-junit.xml", "boxwise-codequality.json", "boxwise-metrics.txt"):
        assert (sample_repo / report).is_file(), f"{report} missing"
    assert (sample_repo / "boxwise-metrics.txt").read_text().rstrip().endswith("# EOF")
    built = json.dumps(json.loads((sample_repo / "boxwise-report.json").read_text()))
    assert "apps/api" in built
    assert "apps/worker" not in built  # untouched by the change
    notes = fake_gitlab.state.notes[("5", "7")]
    assert len(notes) == 1 and "apps/api" in notes[0]["body"]
    assert token not in log


@pytest.mark.engine
def test_fan_out_child_pipeline_builds_the_changed_app_in_its_own_job_and_comments(
    sample_repo: Path, gitlab_host: GitLabHost, python_base: str, fake_gitlab
) -> None:
    install_pipeline(sample_repo, snippet("inputs"), READY_INPUTS)
    base = git(sample_repo, "rev-parse", "HEAD").strip()
    commit_files(sample_repo, {"apps/worker/worker/__main__.py": serve_main("worker v2")}, "worker v2")
    variables = {
        **mr_variables(base),
        "CI_API_V4_URL": f"{fake_gitlab.url}/api/v4",
        "CI_MERGE_REQUEST_PROJECT_ID": "5",
        "GITLAB_TOKEN": fake_gitlab.state.gitlab_token,
    }

    # The whole pipeline: gitlab-ci-local hands a job filter on to the child pipeline too.
    result = ready_pipeline(sample_repo, gitlab_host, variables=variables, timeout=1500)
    assert "[boxwise-apps] -> boxwise-build-apps-worker" in result.stdout, result.stdout
    assert "boxwise-build-apps-api" not in result.stdout
    assert job_passed(result.stdout, "boxwise-build-apps-worker", parent="boxwise-apps"), result.stdout
    report = (
        sample_repo / ".gitlab-ci-local" / "artifacts" / "boxwise-build-apps-worker" / "boxwise-report.json"
    )
    assert "apps/worker" in report.read_text()
    for name in ("boxwise-junit.xml", "boxwise-codequality.json", "boxwise-metrics.txt"):
        assert (sample_repo / name).is_file(), f"{name} missing"
    notes = fake_gitlab.state.notes[("5", "7")]
    assert len(notes) == 1 and "apps/worker" in notes[0]["body"]


@pytest.mark.engine
def test_default_branch_pushes_the_baseline_and_cache_image_a_fresh_runner_builds_warm_from(
    sample_repo: Path,
    gitlab_host: GitLabHost,
    python_base: str,
    local_registry: str,
    docker_client,
) -> None:
    """The default branch's pipeline pushes each app's image and its cache image (`:boxwise-cache`,
    the template's default); a merge request's pipeline on a fresh runner (the engine without those
    images, an empty $XDG_CACHE_HOME) builds a code-only change without pip, its dependency layer
    the baseline's, and leaves the cache image as it was."""
    prefix = f"{local_registry}/boxwise-test-faces-{uuid.uuid4().hex[:8]}"
    install_pipeline(sample_repo, snippet("bare"), {**READY_INPUTS, "image-prefix": prefix})
    try:
        # The default branch's pipeline (gitlab-ci-local: a push to main, main being the default).
        # Each runner's disk: gitlab-ci-local's shell jobs share one CI_PROJECT_DIR (/builds/...), so
        # a pipeline variable gives each its own $XDG_CACHE_HOME there (it wins over the template's,
        # as in GitLab).
        runner = {"XDG_CACHE_HOME": f"$CI_PROJECT_DIR/.boxwise-cache-{prefix[-8:]}-1"}
        main = ready_pipeline(sample_repo, gitlab_host, "boxwise-build", variables=runner, timeout=1500)
        assert job_passed(main.stdout, "boxwise-build"), main.stdout + main.stderr
        assert re.search(r"restore: .* from the cache image", main.stdout) is None  # it starts cold
        catalog = json.load(urllib.request.urlopen(f"http://{local_registry}/v2/_catalog"))["repositories"]
        assert sorted(catalog) == [f"{prefix.split('/', 1)[1]}/apps-{app}" for app in ("api", "worker")]
        cache_image = f"registry://{prefix}/apps-api:boxwise-cache"
        assert f"{cache_image}: read and written (main is the default branch)" in main.stderr + main.stdout
        written = cache_manifest(local_registry, prefix)
        # The next job runs on a fresh runner: only the registry has the images, the cache is empty.
        remove_images(docker_client, prefix)

        git(sample_repo, "checkout", "-q", "-b", "feature")
        base = git(sample_repo, "rev-parse", "HEAD").strip()
        commit_files(sample_repo, {"apps/api/api/__main__.py": serve_main("api, longer")}, "api v2")
        variables = {**mr_variables(base), "CI_COMMIT_BRANCH": "", "CI_COMMIT_REF_NAME": "feature"}
        variables["XDG_CACHE_HOME"] = f"$CI_PROJECT_DIR/.boxwise-cache-{prefix[-8:]}-2"  # empty
        result = ready_pipeline(sample_repo, gitlab_host, "boxwise-build", variables=variables, timeout=1500)
        log = result.stdout + result.stderr
        assert job_passed(result.stdout, "boxwise-build"), log
        assert "no baseline" not in log.lower()
        assert f"restore: 2 cached layer(s) from the cache image {cache_image}" in log
        assert "$ pip install" not in log
        # the cache image's fast-path record: no build container at all on the fresh runner
        assert "fast path: every dependency layer keeps its key" in log
        assert "layer pip-install:packages: reused (key unchanged" in log
        baseline = docker_client.images.get(f"{prefix}/apps-api:main")  # pulled back as the baseline
        built = docker_client.images.get(f"{prefix}/apps-api:ci-{git(sample_repo, 'rev-parse', 'HEAD')[:8]}")
        assert dependency_diff_id(built) == dependency_diff_id(baseline)
        assert f"{cache_image}: read only in a merge request" in log
        assert cache_manifest(local_registry, prefix) == written
    finally:
        remove_images(docker_client, prefix)
        for runner_disk in Path("/builds").glob(f"*/*/.boxwise-cache-{prefix[-8:]}-*"):
            shutil.rmtree(runner_disk, ignore_errors=True)


def cache_manifest(registry: str, prefix: str) -> str:
    """The digest of apps/api's cache image in the registry."""
    repository = f"{prefix.split('/', 1)[1]}/apps-api"
    request = urllib.request.Request(
        f"http://{registry}/v2/{repository}/manifests/boxwise-cache",
        method="HEAD",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(request) as answer:
        return answer.headers["Docker-Content-Digest"]


def dependency_diff_id(image) -> str:
    """The diff_id of pip-install's `packages` layer, as the image's lifecycle label names it."""
    label = json.loads(image.labels["io.buildpacks.lifecycle.metadata"])
    (pip,) = [bp for bp in label["buildpacks"] if bp["key"] == "pip-install"]
    return pip["layers"]["packages"]["sha"]


def remove_images(docker_client, prefix: str) -> None:
    for image in docker_client.images.list():
        for tag in image.tags:
            if tag.startswith(prefix):
                docker_client.images.remove(tag, force=True)
