"""`boxwise report` in a repo: the baseline convention, no baseline, the app's lint findings."""

from __future__ import annotations

import shutil

import pytest
from support.cli import run_boxwise

PYPROJECT = """\
[tool.boxwise]
baseline = "docker-archive:{baselines}/{{app}}-{{branch}}.tar"
"""


def make_repo(make_git_repo, tmp_path, saved_images):
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    repo = make_git_repo(
        {
            "pyproject.toml": PYPROJECT.format(baselines=baselines),
            "apps/api/requirements.txt": "flask==3.0.3\nnumpy\n",
            "apps/api/app.py": "print('hi')\n",
            "apps/worker/requirements.txt": "celery==5.4.0\n",
        }
    )
    return repo, baselines


@pytest.mark.engine
def test_baseline_comes_from_the_convention_for_the_target_branch(
    make_git_repo, tmp_path, saved_images, engine, clean_env
) -> None:
    repo, baselines = make_repo(make_git_repo, tmp_path, saved_images)
    shutil.copy(saved_images["baseline"], baselines / "apps-api-release-2.0.tar")
    result = run_boxwise(
        "report",
        f"docker-archive:{saved_images['new']}",
        "--app",
        "apps/api",
        "--format",
        "markdown",
        "--highestUserWastedPercent",
        "disabled",
        cwd=repo,
        env={"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "release/2.0"},
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("### boxwise · `apps/api` · ✅ gate passed\n")
    assert f"Compared with the baseline `docker-archive:{baselines}/apps-api-release-2.0.tar`." in text
    assert "| layers | 4 | 3 | +1 |" in text
    # the app's own lint findings, and only its own
    assert "| `apps/api/requirements.txt` | 2 | `unpinned` | warning |" in text
    assert "celery" not in text and "apps/worker" not in text


@pytest.mark.engine
def test_missing_baseline_is_said_and_is_not_an_error(
    make_git_repo, tmp_path, saved_images, engine, clean_env
) -> None:
    repo, baselines = make_repo(make_git_repo, tmp_path, saved_images)
    result = run_boxwise(
        "report",
        f"docker-archive:{saved_images['new']}",
        "--format",
        "markdown",
        "--highestUserWastedPercent",
        "disabled",
        cwd=repo / "apps" / "worker",  # the app is the one holding the working folder
        env={"GITHUB_BASE_REF": "main"},
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("### boxwise · `apps/worker` · ✅ gate passed\n")
    missing = f"docker-archive:{baselines}/apps-worker-main.tar"
    assert f"> **No baseline to compare with:** {missing} could not be read" in text
    assert "| image size | 2.24 MB | — | — |" in text
    assert "Not compared: no baseline to compare with." in text
    assert "<!-- boxwise:report app=apps/worker -->" in text


@pytest.mark.engine
def test_terminal_report_is_the_default(make_git_repo, tmp_path, saved_images, engine, clean_env) -> None:
    repo, _ = make_repo(make_git_repo, tmp_path, saved_images)
    result = run_boxwise(
        "report",
        f"docker-archive:{saved_images['new']}",
        "--baseline",
        f"docker-archive:{saved_images['baseline']}",
        "--app",
        "apps/api",
        cwd=repo,
    )
    assert result.returncode == 1, result.stderr  # dive's default 10 % user-wasted rule fails
    assert "apps/api  gate failed: highestUserWastedPercent" in result.stdout
    assert "image size" in result.stdout and "2.24 MB" in result.stdout
    assert "/data/big.bin" in result.stdout
    assert "apps/api/requirements.txt:2  warning  unpinned" in result.stdout
    assert "<!--" not in result.stdout


def test_bad_gate_value_is_one_line_exit_2(analyses) -> None:
    result = run_boxwise(
        "report", str(analyses["new"]), "--lowestEfficiency", "lots", cwd=analyses["new"].parent
    )
    assert result.returncode == 2
    assert result.stderr.startswith("boxwise: error: misconfigured gate rules: --lowestEfficiency")
    assert "Traceback" not in result.stderr


def test_posting_defaults_come_from_pyproject(make_git_repo, fake_api, analyses) -> None:
    from support.report import gitlab_env

    repo = make_git_repo({"pyproject.toml": '[tool.boxwise.report]\npost = "gitlab"\nstrict = true\n'})
    fake_api.add_merge_request("5", 7)
    args = ("report", str(analyses["new"]), "--app", "api")
    posted = run_boxwise(*args, cwd=repo, env=gitlab_env(fake_api))
    assert posted.returncode == 0, posted.stderr
    assert "created the api comment" in posted.stderr
    # strict = true from the file: a wrong token now fails the command
    failed = run_boxwise(*args, cwd=repo, env=gitlab_env(fake_api, token="glpat-wrong-0000"))
    assert failed.returncode == 2
    # and the flag still wins over the file
    assert run_boxwise(*args, "--post", "none", cwd=repo, env=gitlab_env(fake_api)).returncode == 0
    assert len(fake_api.state.notes[("5", "7")]) == 1

    (repo / "pyproject.toml").write_text('[tool.boxwise.report]\npost = "always"\n')
    bad = run_boxwise(*args, cwd=repo)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        f"boxwise: error: {repo / 'pyproject.toml'}: [tool.boxwise.report] post = 'always'; "
        "use one of auto, gitlab, github, none, summary"
    )


@pytest.mark.engine
def test_a_registry_baseline_the_engine_lacks_is_pulled(
    saved_images, local_registry, docker_client, tmp_path
) -> None:
    name = f"{local_registry}/boxwise-test-report-pull/base"
    image = docker_client.images.get("boxwise-test-report-baseline:latest")
    image.tag(name, "main")
    try:
        for line in docker_client.images.push(name, tag="main", stream=True, decode=True):
            assert "error" not in line, line
        docker_client.images.remove(f"{name}:main")  # a fresh CI engine: only the registry has it
        args = ("report", f"docker-archive:{saved_images['new']}", "--format", "markdown", "--app", "shop")
        args += ("--highestUserWastedPercent", "disabled")
        result = run_boxwise(*args, "--baseline", f"docker://{name}:main", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"Compared with the baseline `docker://{name}:main`." in result.stdout
        assert "| layers | 4 | 3 | +1 |" in result.stdout

        missing = run_boxwise(*args, "--baseline", f"docker://{name}:nope", cwd=tmp_path)
        assert missing.returncode == 0, missing.stderr
        assert f"**No baseline to compare with:** {name}:nope could not be pulled" in missing.stdout
    finally:
        for image in docker_client.images.list():
            for tag in image.tags:
                if tag.startswith(name):
                    docker_client.images.remove(tag)
