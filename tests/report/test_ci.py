"""`boxwise ci` on a real git repo and the real engine: only the touched apps build."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest
from support.cli import run_boxwise
from support.git import git
from support.report import github_env, gitlab_env
from support.schemas import errors as schema_errors
from support.webapp import serve_main

pytestmark = pytest.mark.engine

APPS = {
    # the base made by scripts/base-image.sh: no public registry answers here (the default is python:3.X-slim)
    "pyproject.toml": '[tool.boxwise]\napps = ["apps/*"]\nshared = ["libs/**"]\n'
    '[tool.boxwise.build]\nbase = "boxwise-python:bookworm"\n',
    "libs/common.txt": "shared by every app\n",
}
for _name in ("api", "worker", "web"):
    APPS[f"apps/{_name}/Procfile"] = f"web: python3 -m {_name}\n"
    APPS[f"apps/{_name}/{_name}/__init__.py"] = ""
    APPS[f"apps/{_name}/{_name}/__main__.py"] = serve_main(_name)


@pytest.fixture
def prefix(docker_client) -> Iterator[str]:
    """A tag prefix of this test's own; its images are removed afterwards (only those)."""
    name = f"boxwise-test-report-ci-{uuid.uuid4().hex[:8]}/"
    yield name
    for image in docker_client.images.list():
        for tag in image.tags:
            if tag.startswith(name):
                docker_client.images.remove(tag, noprune=False)


def built_apps(stderr: str) -> list[str]:
    return [
        line.split(":")[1].strip()
        for line in stderr.splitlines()
        if line.startswith("boxwise ci:") and ": building " in line
    ]


def test_only_the_touched_app_builds_and_is_compared_with_its_baseline(
    make_git_repo, python_base, prefix, docker_client, tmp_path, clean_env
) -> None:
    repo = make_git_repo(APPS)
    main = run_boxwise(
        "ci", "--tag-prefix", prefix, "--post", "none", cwd=repo, env={"CI_COMMIT_BRANCH": "main"}
    )
    assert main.returncode == 0, main.stderr
    assert built_apps(main.stderr) == ["apps/api", "apps/web", "apps/worker"]  # a branch pipeline builds all
    for slug in ("apps-api", "apps-web", "apps-worker"):
        assert docker_client.images.get(f"{prefix}{slug}:main")  # kept as the baseline
        assert f"kept as the baseline docker://{prefix}{slug}:main" in main.stderr
    main_api_id = docker_client.images.get(f"{prefix}apps-api:main").id

    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "apps/api/api/__main__.py").write_text(serve_main("api, version two"))
    git(repo, "commit", "-q", "-am", "api: say more")
    (repo / "apps/web/web/__main__.py").write_text(serve_main("not committed: not part of the change"))
    out = tmp_path / "report.json"
    result = run_boxwise(
        "ci",
        "--changed-since",
        "main",
        "--tag-prefix",
        prefix,
        "--post",
        "none",
        "--json",
        str(out),
        cwd=repo,
    )
    assert result.returncode == 0, result.stderr
    assert built_apps(result.stderr) == ["apps/api"]
    assert "1 app(s) changed since main" in result.stderr
    document = json.loads(out.read_text())
    assert schema_errors(document, "report") == []  # with the build's layer notes and startup figures
    assert [app["app"] for app in document["apps"]] == ["apps/api"]
    api = document["apps"][0]
    assert api["baseline_ref"] == f"docker://{prefix}apps-api:main"
    assert api["diff"]["change"]["size_bytes"] == len(serve_main("api, version two")) - len(serve_main("api"))
    rows = api["diff"]["layers"]
    # the base and the runtime layer are reused; only the app layer was rebuilt, replacing the baseline's
    assert [(row["status"], row["made_by"]) for row in rows] == [
        ("unchanged", ""),
        ("unchanged", "Runtime Layer: run user, /cnb/process launchers"),
        ("added", "app"),
        ("removed", "app"),
    ]
    assert rows[2]["replaces"] == 2 and rows[2]["change_bytes"] == 2 * len(", version two")
    # the build's own word on the layer it rebuilt
    assert api["layer_notes"][rows[2]["diff_id"]].startswith("rebuilt: ")
    assert "apps/api" in result.stdout and "passed" in result.stdout  # the summary table
    # the merge request's build did not overwrite the baseline
    assert docker_client.images.get(f"{prefix}apps-api:main").id == main_api_id


def test_a_shared_change_builds_every_app_and_posts_one_comment_each(
    make_git_repo, python_base, prefix, fake_api, clean_env
) -> None:
    repo = make_git_repo(APPS)
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "libs/common.txt").write_text("changed\n")
    git(repo, "commit", "-q", "-am", "libs: change")
    fake_api.add_merge_request("5", 7)
    env = gitlab_env(fake_api)
    result = run_boxwise("ci", "--changed-since", "main", "--tag-prefix", prefix, cwd=repo, env=env)
    assert result.returncode == 0, result.stderr
    assert built_apps(result.stderr) == ["apps/api", "apps/web", "apps/worker"]
    bodies = [note["body"] for note in fake_api.state.notes[("5", "7")]]
    assert len(bodies) == 3
    for app, body in zip(("apps/api", "apps/web", "apps/worker"), bodies, strict=True):
        assert body.startswith(f"### boxwise · `{app}` · ✅ gate passed")
        assert f"<!-- boxwise:report app={app} -->" in body
        assert "**No baseline to compare with:**" in body  # main never kept one here
    again = run_boxwise("ci", "--changed-since", "main", "--tag-prefix", prefix, cwd=repo, env=env)
    assert again.returncode == 0, again.stderr
    assert len(fake_api.state.notes[("5", "7")]) == 3  # edited, not added


def test_gate_or_build_failure_exits_1_and_misconfiguration_2(
    make_git_repo, python_base, prefix, fake_api, tmp_path, clean_env
) -> None:
    repo = make_git_repo({**APPS, "apps/empty/README.md": "no app here\n"})
    gate = run_boxwise(
        "ci", "--apps", "apps/api", "--tag-prefix", prefix, "--highestImageBytes", "1MB", cwd=repo
    )
    assert gate.returncode == 1, gate.stderr
    assert "gate failed: highestImageBytes" in gate.stdout

    fake_api.add_merge_request("5", 7)
    junit = tmp_path / "junit.xml"
    build = run_boxwise(
        "ci",
        "--apps",
        "apps/empty",
        "apps/web",
        "--tag-prefix",
        prefix,
        "--junit",
        str(junit),
        cwd=repo,
        env=gitlab_env(fake_api),
    )
    assert build.returncode == 1
    assert "boxwise ci: apps/empty: build failed:" in build.stderr
    assert built_apps(build.stderr) == ["apps/empty", "apps/web"]  # one failure does not stop the rest
    assert "Traceback" not in build.stderr
    # the failed app's comment says so (a stale "passed" report would mislead), the other is normal
    bodies = {n["body"].splitlines()[0]: n["body"] for n in fake_api.state.notes[("5", "7")]}
    headlines = sorted(bodies)
    assert headlines[0] == "### boxwise · `apps/empty` · 💥 build failed"
    # the smoke check's figures are in the headline of the app that built
    assert re.fullmatch(
        r"### boxwise · `apps/web` · ✅ gate passed · 🚀 starts in [\d.]+ s, answers 200, \d+ MiB",
        headlines[1],
    )
    assert "<!-- boxwise:report app=apps/empty -->" in bodies["### boxwise · `apps/empty` · 💥 build failed"]
    cases = {
        c.get("name"): c
        for c in ET.parse(junit).getroot().iter("testcase")
        if "apps/empty" in c.get("classname")
    }
    assert list(cases) == ["build"] and cases["build"].find("failure") is not None

    # a change that touches no app builds nothing, and still leaves the report files CI expects
    git(repo, "checkout", "-q", "-b", "docs")
    (repo / "README.md").write_text("docs only\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "docs")
    out = repo.parent / "nothing"
    nothing = run_boxwise(
        "ci",
        "--changed-since",
        "main",
        "--tag-prefix",
        prefix,
        "--junit",
        str(out / "j.xml"),
        "--metrics",
        str(out / "m.txt"),
        "--codequality",
        str(out / "cq.json"),
        cwd=repo,
    )
    assert nothing.returncode == 0, nothing.stderr
    assert "no app is touched by this change; nothing to build" in nothing.stderr
    assert built_apps(nothing.stderr) == []
    assert (out / "m.txt").read_text().endswith("# EOF\n")
    assert json.loads((out / "cq.json").read_text()) == []
    assert ET.parse(out / "j.xml").getroot().get("tests") == "0"

    for bad in (["--apps", "apps/nope"], ["--lowestEfficiency", "lots"], ["--changed-since", "no-such-ref"]):
        result = run_boxwise("ci", "--tag-prefix", prefix, *bad, cwd=repo)
        assert result.returncode == 2, (bad, result.stderr)
        assert result.stderr.strip().splitlines()[-1].startswith("boxwise: error: ")
        assert built_apps(result.stderr) == []


def test_baseline_is_pushed_to_a_registry_and_pulled_by_a_later_merge_request(
    make_git_repo, python_base, local_registry, docker_client, clean_env
) -> None:
    repo = make_git_repo(APPS)
    prefix = f"{local_registry}/boxwise-test-report-ci-{uuid.uuid4().hex[:8]}"
    baseline = f"{prefix}/apps-api:main"
    try:
        main = run_boxwise(
            "ci", "--apps", "apps/api", "--tag-prefix", prefix, cwd=repo, env={"CI_COMMIT_BRANCH": "main"}
        )
        assert main.returncode == 0, main.stderr
        assert f"kept as the baseline docker://{baseline}" in main.stderr
        pushed_id = docker_client.images.get(baseline).id
        for (
            image
        ) in docker_client.images.list():  # a fresh engine, as in the next CI job: only the registry has it
            for tag in image.tags:
                if tag.startswith(prefix):
                    docker_client.images.remove(tag)

        git(repo, "checkout", "-q", "-b", "feature")
        (repo / "apps/api/api/__main__.py").write_text(serve_main("api 2"))
        git(repo, "commit", "-q", "-am", "api 2")
        env = {"CI_MERGE_REQUEST_IID": "3", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}
        result = run_boxwise(
            "ci", "--changed-since", "main", "--tag-prefix", prefix, "--post", "none", cwd=repo, env=env
        )
        assert result.returncode == 0, result.stderr
        assert "no baseline" not in result.stderr.lower()
        assert docker_client.images.get(baseline).id == pushed_id  # pulled back from the registry
        assert "+4 B" in result.stdout  # 'api 2' against 'api', twice in the app's one file

        # a baseline the registry does not hold: said once, and the report goes on without it
        other = f"{prefix}-never-built"
        missing = run_boxwise(
            "ci", "--changed-since", "main", "--tag-prefix", other, "--post", "none", cwd=repo, env=env
        )
        assert missing.returncode == 0, missing.stderr
        assert (
            f"boxwise ci: apps/api: no baseline: {other}/apps-api:main could not be pulled" in missing.stderr
        )
    finally:
        for image in docker_client.images.list():
            for tag in image.tags:
                if tag.startswith(prefix):
                    docker_client.images.remove(tag)


def test_github_pull_request_run_comments_and_fills_the_runner_files(
    make_git_repo, python_base, prefix, fake_api, tmp_path, clean_env
) -> None:
    repo = make_git_repo(APPS)
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "apps/worker/worker/__main__.py").write_text(serve_main("worker 2"))
    git(repo, "commit", "-q", "-am", "worker 2")
    fake_api.add_pull_request("shop/mono", 12)
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    env = {
        **github_env(fake_api, tmp_path),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
    }
    result = run_boxwise(
        "ci", "--changed-since", "main", "--tag-prefix", prefix, "--post", "github", cwd=repo, env=env
    )
    assert result.returncode == 0, result.stderr
    assert built_apps(result.stderr) == ["apps/worker"]
    comments = fake_api.state.comments[("shop/mono", "12")]
    assert len(comments) == 1 and "<!-- boxwise:report app=apps/worker -->" in comments[0]["body"]
    assert summary.read_text().startswith("### boxwise · `apps/worker` · ✅ gate passed")
    written = outputs.read_text().splitlines()
    assert "verdict=pass" in written
    assert any(line.startswith("size-bytes=") and int(line.split("=")[1]) > 100_000_000 for line in written)
    apps = json.loads(next(line for line in written if line.startswith("apps=")).removeprefix("apps="))
    assert [app["app"] for app in apps] == ["apps/worker"]
    for text in (result.stdout, result.stderr, summary.read_text(), outputs.read_text(), comments[0]["body"]):
        assert env["GITHUB_TOKEN"] not in text


def test_builder_flag_runs_the_buildpacks_in_that_image(
    make_git_repo, python_base, busybox_image, prefix, docker_client, clean_env
) -> None:
    """--builder (the GitLab include's builder-image input) reaches the build: the busybox run base
    has no python3 for the buildpacks, the named builder does."""
    repo = make_git_repo(APPS)
    common = ("ci", "--apps", "apps/api", "--base", f"docker://{busybox_image}", "--tag-prefix", prefix)
    without = run_boxwise(*common, "--post", "none", cwd=repo, env={"CI_COMMIT_BRANCH": "main"})
    assert without.returncode == 1, without.stderr
    assert "the build image has no python3 to run the buildpacks" in without.stderr
    assert "--builder" in without.stderr
    with_builder = run_boxwise(
        *common,
        "--builder",
        f"docker://{python_base}",
        "--post",
        "none",
        cwd=repo,
        env={"CI_COMMIT_BRANCH": "main"},
    )
    # built; but busybox has no python3 to run the app either, and the smoke check says so
    assert with_builder.returncode == 1, with_builder.stderr
    assert "gate failed: requireAnswer" in with_builder.stdout
    assert docker_client.images.get(f"{prefix}apps-api:main")
    unchecked = run_boxwise(
        *common, "--builder", f"docker://{python_base}", "--no-check", "--post", "none", cwd=repo
    )
    assert unchecked.returncode == 0, unchecked.stderr
