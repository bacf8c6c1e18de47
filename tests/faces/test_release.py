"""boxwise's own release pipeline (.gitlab-ci.yml): valid, run only for a release tag, wheel and sdist
built and published with PyPI trusted publishing, then the catalog release. Not run (no PyPI, no
GitLab here): checked by schema, by gitlab-ci-local's --list-json/--preview, and its first job's
script on this checkout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from boxwise import __version__

from .facelib import REPO, check_jsonschema, gitlab_ci_local_command, tool_env

PIPELINE = REPO / ".gitlab-ci.yml"


def test_release_pipeline_matches_the_gitlab_ci_schema() -> None:
    result = check_jsonschema("vendor.gitlab-ci", PIPELINE, transform="gitlab-ci")
    assert result.returncode == 0, result.stdout + result.stderr


def listed_jobs(tmp_path: Path, tag: str | None) -> dict[str, dict]:
    """gitlab-ci-local's view of the pipeline, on a copy of the file, for a push of `tag` (or none)."""
    repo = tmp_path / "boxwise"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitlab-ci.yml").write_text(PIPELINE.read_text())
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    who = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "-C", str(repo), *who, "commit", "-qm", "ci"], check=True)
    variables = {"CI_COMMIT_TAG": tag} if tag else {}
    (repo / ".gitlab-ci-local-variables.yml").write_text(yaml.safe_dump(variables))
    env = {**tool_env(), "GCL_IGNORE_PREDEFINED_VARS": ",".join(variables)}
    command = [*gitlab_ci_local_command(), "--list-json"]
    listed = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    return {job["name"]: job for job in json.loads(listed.stdout) if job["when"] != "never"}


@pytest.mark.slow
def test_a_release_tag_runs_check_build_publish_release_and_nothing_else_runs_it(tmp_path: Path) -> None:
    jobs = listed_jobs(tmp_path / "tag", __version__)
    assert list(jobs) == ["check-release", "build-dist", "publish-pypi", "release"]
    assert [jobs[name]["stage"] for name in jobs] == ["check", "build", "publish", "release"]
    assert listed_jobs(tmp_path / "branch", None) == {}  # a push to a branch: no pipeline
    assert listed_jobs(tmp_path / "other-tag", "v1-rc") == {}


def test_publishing_uses_an_id_token_for_pypi_and_no_stored_token() -> None:
    pipeline = yaml.safe_load(PIPELINE.read_text())
    publish = pipeline["publish-pypi"]
    assert publish["id_tokens"] == {"PYPI_ID_TOKEN": {"aud": "pypi"}}
    assert publish["environment"]["name"] == "pypi"
    script = "\n".join(publish["script"])
    assert "twine upload" in script and "twine>=6.1" in script
    assert "TWINE_PASSWORD" not in PIPELINE.read_text() and "PYPI_TOKEN" not in PIPELINE.read_text()
    assert "python3 -m build --sdist --wheel" in "\n".join(pipeline["build-dist"]["script"])
    assert pipeline["release"]["release"]["tag_name"] == "$CI_COMMIT_TAG"


def test_the_release_check_passes_here_and_refuses_a_mismatched_tag_or_project() -> None:
    check = [sys.executable, str(REPO / "scripts" / "release_check.py")]
    ok = subprocess.run([*check, __version__, "tools/boxwise"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([*check, "9.9.9", "acme/boxwise"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert f"tag 9.9.9 is not __version__ ({__version__})" in bad.stderr
    assert "boxwise-project default is tools/boxwise, not this project (acme/boxwise)" in bad.stderr
