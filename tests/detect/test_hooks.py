"""The pre-commit hooks through real pre-commit, the plain git hooks through real git.

pre-commit installs a snapshot of this checkout (tracked and new files as they are on disk) into a
fresh virtualenv with a plain (non-editable) `pip install`, so a passing run also proves the
buildpacks ship inside the package.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.git import snapshot_checkout

from boxwise.config import tomllib

REPO = Path(__file__).resolve().parents[2]
BROKEN = {
    "apps/api/Procfile": "web gunicorn api:app\n",
    "apps/api/requirements.txt": (
        "--extra-index-url https://ci-bot:glpat-s3cr3t@gitlab.example.com/api/v4/pypi/simple\nclick==8.1.7\n"
    ),
    "README.md": "sample\n",
}
FIXED_PROCFILE = "web: gunicorn api:app\n"
FIXED_REQUIREMENTS = "--extra-index-url https://gitlab.example.com/api/v4/pypi/simple\nclick==8.1.7\n"


def git(repo: Path, *args: str, check: bool = True, env: dict[str, str] | None = None):
    return subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=check,
        env={**os.environ, **(env or {})},
    )


def test_manifest_is_valid_with_stable_ids() -> None:
    result = subprocess.run(
        ["pre-commit", "validate-manifest", str(REPO / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    import yaml  # pre-commit's own dependency

    hooks = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert list(hooks) == ["boxwise-detect", "boxwise-build", "boxwise-gate"]
    assert hooks["boxwise-detect"]["entry"] == "boxwise detect"
    assert hooks["boxwise-detect"]["language"] == "python"
    for hook_id, command in (("boxwise-build", "boxwise build"), ("boxwise-gate", "boxwise gate")):
        hook = hooks[hook_id]
        assert hook["entry"] == command
        assert hook["stages"] == ["manual", "pre-push"]
        assert hook["pass_filenames"] is False and hook["require_serial"] is True
    import re

    files = re.compile(hooks["boxwise-detect"]["files"])
    for name in ("requirements.txt", "a/requirements-dev.txt", "a/pyproject.toml", "a/Procfile",
                 "a/.boxwiseignore", ".dockerignore", "a/requirements/base.txt"):  # fmt: skip
        assert files.search(name), name
    for name in ("a/app.py", "README.md", "a/Procfile.bak", "a/notrequirements.txt"):
        assert not files.search(name), name


@pytest.mark.slow
def test_pre_commit_run_fails_on_findings_and_passes_after_the_fix(make_git_repo, tmp_path: Path) -> None:
    # The hook repo: this checkout as it is on disk, uncommitted edits too (as try-repo would see it).
    # `pre-commit try-repo` would install it twice (a throwaway store each run: 13 s each); a user's
    # config and one PRE_COMMIT_HOME install it once, and the second run proves the env is reused.
    release = snapshot_checkout(REPO, tmp_path / "boxwise")
    config = f"repos:\n- repo: {tmp_path / 'boxwise'}\n  rev: {release}\n  hooks:\n  - id: boxwise-detect\n"
    sample = make_git_repo({**BROKEN, ".pre-commit-config.yaml": config}, name="sample")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    env.pop("PYTHONPATH", None)  # the hook runs the installed boxwise, not a checkout's src/
    command = ["pre-commit", "run", "boxwise-detect", "--all-files"]
    broken = subprocess.run(command, cwd=sample, capture_output=True, text=True, env=env, timeout=600)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "apps/api/Procfile:1  error  procfile-syntax" in broken.stdout
    assert "apps/api/requirements.txt:1  error  url-credentials" in broken.stdout
    assert "glpat-s3cr3t" not in broken.stdout
    assert "Installing environment" in broken.stdout + broken.stderr
    _the_install_carries_the_buildpacks(tmp_path / "pre-commit-home", env, make_git_repo)
    (sample / "apps/api/Procfile").write_text(FIXED_PROCFILE)
    (sample / "apps/api/requirements.txt").write_text(FIXED_REQUIREMENTS)
    git(sample, "commit", "-qam", "fix")
    fixed = subprocess.run(command, cwd=sample, capture_output=True, text=True, env=env, timeout=600)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "boxwise detect (buildpacks + lint)" in fixed.stdout and "Passed" in fixed.stdout
    assert "Installing environment" not in fixed.stdout + fixed.stderr


def _the_install_carries_the_buildpacks(home: Path, env: dict[str, str], make_git_repo) -> None:
    """pre-commit made the hook's environment with a plain (non-editable) `pip install` of the
    repo: the buildpacks are in it, not read from a checkout, and their bin/ files run."""
    pythons = list(home.glob("repo*/py_env-*/bin/python"))
    assert len(pythons) == 1, pythons
    where = subprocess.run(
        [
            str(pythons[0]),
            "-c",
            "from boxwise.builder.builder_toml import buildpacks_root; print(buildpacks_root())",
        ],
        cwd=home,
        capture_output=True,
        text=True,
        env=env,
    )
    installed = Path(where.stdout.strip())
    assert installed.is_relative_to(pythons[0].parents[1]), where.stdout + where.stderr
    assert tomllib.loads((installed / "builder.toml").read_text())["order"]
    app = make_git_repo({"requirements.txt": "click==8.1.7\n", "Procfile": "web: x\n"}, name="app")
    detect = subprocess.run([str(installed / "pip-install" / "bin" / "detect")], cwd=app, capture_output=True)
    assert detect.returncode == 0  # the shipped bin/detect keeps its executable bit and its rule
    result = subprocess.run(
        [str(pythons[0]), "-m", "boxwise", "detect", "."], cwd=app, capture_output=True, text=True, env=env
    )
    assert ".: pip-install, procfile-run" in result.stdout, result.stdout + result.stderr


def _hooked_repo(make_git_repo) -> Path:
    repo = make_git_repo(
        {
            "apps/api/Procfile": FIXED_PROCFILE,
            "apps/api/requirements.txt": "click==8.1.7\n",
            "README.md": "x\n",
        }
    )
    git(repo, "config", "core.hooksPath", str(REPO / "hooks"))
    return repo


HOOK_ENV = {"BOXWISE": f"{sys.executable} -m boxwise"}


def test_plain_pre_commit_hook_checks_staged_app_files(make_git_repo) -> None:
    repo = _hooked_repo(make_git_repo)
    (repo / "apps/api/Procfile").write_text("web gunicorn\n")
    git(repo, "add", "apps/api/Procfile")
    refused = git(repo, "commit", "-m", "broken", check=False, env=HOOK_ENV)
    assert refused.returncode != 0
    assert "apps/api/Procfile:1  error  procfile-syntax" in refused.stdout + refused.stderr
    assert git(repo, "log", "--format=%s").stdout.splitlines() == ["initial"]
    # a commit touching no app file does not run detect, even while an app is broken
    (repo / "README.md").write_text("y\n")
    git(repo, "reset", "-q")
    git(repo, "add", "README.md")
    assert git(repo, "commit", "-qm", "docs", check=False, env=HOOK_ENV).returncode == 0
    (repo / "apps/api/Procfile").write_text("web: gunicorn --workers 2 api:app\n")
    git(repo, "add", "apps/api/Procfile")
    assert git(repo, "commit", "-qm", "fixed", check=False, env=HOOK_ENV).returncode == 0


def test_plain_pre_commit_hook_checks_the_app_of_a_deleted_file(make_git_repo) -> None:
    repo = _hooked_repo(make_git_repo)
    git(repo, "rm", "-q", "apps/api/Procfile")
    result = git(repo, "commit", "-m", "no procfile", check=False, env=HOOK_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "apps/api: pip-install" in result.stdout + result.stderr
    assert "no-process" in result.stdout + result.stderr


def test_plain_pre_push_hook_checks_the_whole_repo(make_git_repo, tmp_path: Path) -> None:
    repo = _hooked_repo(make_git_repo)
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    assert git(repo, "push", "-q", "origin", "main", check=False, env=HOOK_ENV).returncode == 0
    (repo / "apps/worker").mkdir()
    (repo / "apps/worker/Procfile").write_text("worker:\n")
    git(repo, "add", "apps/worker/Procfile")
    git(repo, "commit", "-qm", "worker", "--no-verify")
    pushed = git(repo, "push", "origin", "main", check=False, env=HOOK_ENV)
    assert pushed.returncode != 0
    assert "apps/worker/Procfile:1  error  procfile-empty-command" in pushed.stdout + pushed.stderr
