"""Issue 12 item 1: lint never reads a file outside the repo, and never quotes a secret.

An attacker's merge request points `-r`/`-c` (or a symlinked requirements.txt) at a file of the
runner; lint must say so without reading it, in every output format.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from support.cli import run_boxwise

RUNNER_SECRET = "glpat-RunnerSecret0123456789abcdef"
PROCFILE = "web: python -m api\n"


def _outside_secret(tmp_path: Path) -> Path:
    """A file of 'the runner', beside the repo, that an MR must never get quoted back."""
    secret = tmp_path / "runner" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        f"CI_JOB_TOKEN={RUNNER_SECRET}\n"
        "root:$6$saltsalt$Hash0123456789ABCDEFabcdefHash0123456789ABCDEFab:19000:0:99999:7:::\n"
    )
    return secret


def _all_outputs(repo: Path) -> tuple[str, dict]:
    text = ""
    for fmt in ("text", "json", "codequality", "github"):
        result = run_boxwise("detect", "--format", fmt, cwd=repo)
        assert "Traceback" not in result.stderr, result.stderr
        text += result.stdout + result.stderr
    data = json.loads(run_boxwise("detect", "--format", "json", cwd=repo).stdout)
    return text, data


def test_an_include_or_a_symlink_out_of_the_repo_is_named_not_read(make_git_repo, tmp_path) -> None:
    secret = _outside_secret(tmp_path)
    climb = os.path.relpath(secret, tmp_path / "repo/apps/inc")
    repo = make_git_repo(
        {
            "apps/inc/Procfile": PROCFILE,
            "apps/inc/requirements.txt": f"flask==3.0.0\n-r {climb}\n",
            "apps/abs/Procfile": PROCFILE,
            "apps/abs/requirements.txt": f"-c {secret}\n-r /proc/self/environ\n",
            "apps/link/Procfile": PROCFILE,
        }
    )
    (repo / "apps/link/requirements.txt").symlink_to(secret)
    (repo / "apps/link/pyproject.toml").symlink_to(secret)

    output, data = _all_outputs(repo)

    assert RUNNER_SECRET not in output
    assert "OPENSSH" not in output and "$6$" not in output
    outside = {(f["path"], f["line"]) for f in data["findings"] if f["rule"] == "outside-repo"}
    assert outside == {
        ("apps/inc/requirements.txt", 2),
        ("apps/abs/requirements.txt", 1),
        ("apps/abs/requirements.txt", 2),
        ("apps/link/requirements.txt", None),
        ("apps/link/pyproject.toml", None),
    }
    assert not [f for f in data["findings"] if f["rule"] == "requirements-syntax"]


def test_a_line_that_looks_like_a_secret_is_not_quoted(make_git_repo) -> None:
    aws = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    repo = make_git_repo(
        {
            "apps/a/requirements.txt": (
                f"AWS_SECRET_ACCESS_KEY={aws}\nflask==3.0.0\n{RUNNER_SECRET}\nnot a requirement\n"
            ),
            "apps/a/Procfile": f"web: python -m api\ntoken {RUNNER_SECRET}\n",
        }
    )
    output, data = _all_outputs(repo)
    assert aws not in output and RUNNER_SECRET not in output
    found = {(f["path"], f["line"], f["rule"]) for f in data["findings"]}
    # every bad line is still found (a lone token parses as a project name), a harmless one quoted
    assert ("apps/a/requirements.txt", 1, "requirements-syntax") in found
    assert ("apps/a/requirements.txt", 3, "unpinned") in found
    assert ("apps/a/Procfile", 2, "procfile-syntax") in found
    assert "not a requirement" in output
