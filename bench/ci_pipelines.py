"""CI wall times side by side, one run: cold and warm pipelines, local rebuilds, rebase.

    python bench/ci_pipelines.py [--base boxwise-python:bookworm]

The app is bench/build_compare.py's (examples/hello plus a few pinned requirements) in a git repo,
as the one app of a monorepo. The "pipelines" are the build job's command, `boxwise ci`, with the
variables GitLab gives the job (the CI templates add only the install of boxwise):

- cold default-branch pipeline: empty $XDG_CACHE_HOME, the engine without the app's images; it
  pushes the image (the baseline) and the cache image `:boxwise-cache` to a local docker-registry.
- warm merge-request pipeline on a fresh runner: a code-only change, again an empty
  $XDG_CACHE_HOME and the engine without the images; the layers come from the registry (the cache
  image, and the baseline as the previous image). Beside it the same without the cache image
  (`--cache-tag ''`: the baseline alone).
- code-only local rebuild: `boxwise build` with a warm cache, beside build_compare.py's
  multi-stage Dockerfile rebuilt warm by `docker build` (classic builder).
- rebase onto a patched base (an extra file on top) vs rebuilding onto it.

Every build reaches PyPI through this machine's proxy (the CA bundle goes to the builds as
build_compare.py gives it). Prints a markdown table for docs/ci-speed.md.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_compare import CA, MULTISTAGE_DOCKERFILE, code_change, make_app
from registry_io import start_registry

REPO = Path(__file__).resolve().parents[1]
PREFIX = "boxwise-bench-ci"


def run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(command[:4])} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result.stdout + result.stderr


def timed(
    command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[float, str]:
    started = time.monotonic()
    out = run(command, cwd, env)
    return time.monotonic() - started, out


def git(repo: Path, *args: str) -> str:
    return run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args], cwd=repo)


def make_repo(work: Path, base: str) -> Path:
    repo = work / "shop"
    app = make_app(work / "app", with_ca=False)
    shutil.copytree(app, repo / "apps" / "hello")
    (repo / "pyproject.toml").write_text(
        f'[tool.boxwise]\napps = ["apps/*"]\n[tool.boxwise.build]\nbase = "{base}"\n'
    )
    git(work, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "main")
    return repo


def remove_images(prefix: str) -> None:
    listed = run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"]).split()
    names = [name for name in listed if name.startswith(prefix)]
    if names:
        subprocess.run(["docker", "rmi", "-f", *names], capture_output=True)


def pipeline_env(cache: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITHUB_", "BOXWISE_"))}
    env.update(PYTHONPATH=str(REPO / "src"), XDG_CACHE_HOME=str(cache), SSL_CERT_FILE=str(CA))
    env.update(CI_DEFAULT_BRANCH="main", CI_PROJECT_ID="1", **extra)
    return env


def ci(repo: Path, prefix: str, cache: Path, extra: dict[str, str], cache_tag: str) -> tuple[float, str]:
    command = [sys.executable, "-m", "boxwise", "ci", "--tag-prefix", prefix, "--post", "none"]
    command += ["--cache-tag", cache_tag]
    return timed(command, cwd=repo, env=pipeline_env(cache, extra))


def bench_pipelines(base: str, registry: str, work: Path) -> dict[str, float]:
    prefix = f"{registry}/{PREFIX}-{uuid.uuid4().hex[:6]}"
    repo = make_repo(work, base)
    results = {}
    main = {"CI_COMMIT_BRANCH": "main", "CI_PIPELINE_SOURCE": "push"}
    results["cold default-branch pipeline (pushes the image and the cache image)"], out = ci(
        repo, prefix, work / "runner-1", main, "boxwise-cache"
    )
    assert "read and written" in out, out[-2000:]
    base_sha = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "feature")
    code_change(repo / "apps" / "hello")
    git(repo, "commit", "-qam", "code only")
    mr = {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": "1",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base_sha,
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_COMMIT_REF_NAME": "feature",
    }
    for label, tag, cache in (
        ("warm merge-request pipeline, fresh runner (cache image + baseline)", "boxwise-cache", "runner-2"),
        ("the same without the cache image (baseline as previous image only)", "", "runner-3"),
    ):
        remove_images(prefix)  # a fresh runner's engine: only the registry has the images
        results[label], out = ci(repo, prefix, work / cache, mr, tag)
        assert "$ pip install" not in out, out[-3000:]
    remove_images(prefix)
    return results


def bench_local(base: str, work: Path) -> dict[str, float]:
    app = make_app(work / "local", with_ca=False)
    tag = f"{PREFIX}-local/hello:latest"
    build = [sys.executable, "-m", "boxwise", "build", str(app), "--base", base, "--tag", tag]
    build += ["--cache", str(work / "local-cache"), "--ca-cert", str(CA)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    run(build, env=env)
    code_change(app)
    results = {"code-only rebuild: boxwise build (warm cache)": timed(build, env=env)[0]}

    docker_app = make_app(work / "docker", with_ca=True)
    (docker_app / "Dockerfile").write_text(MULTISTAGE_DOCKERFILE.format(base=base))
    docker_tag = f"{PREFIX}-local/multistage:latest"
    docker = ["docker", "build", "--network", "host", "-q", "-t", docker_tag, str(docker_app)]
    docker_env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    run(docker, env=docker_env)
    code_change(docker_app)
    results["code-only rebuild: docker build, multi-stage Dockerfile (warm)"] = timed(docker, env=docker_env)[
        0
    ]

    # A patched base: the base plus one file in a new top layer.
    import docker as docker_sdk

    client = docker_sdk.from_env()
    patched = f"{PREFIX}-local/base:patched"
    client.images.build(
        fileobj=io.BytesIO(f"FROM {base}\nRUN echo patched > /etc/patched\n".encode()), tag=patched
    )
    rebase = [sys.executable, "-m", "boxwise", "rebase", tag, "--run-image", patched]
    rebase += ["--tag", f"{PREFIX}-local/hello:rebased", "--cache", str(work / "local-cache")]
    results["base patch: boxwise rebase (no rebuild)"] = timed(rebase, env=env)[0]
    rebuild = [*build[:6], patched, *build[7:]]  # --base patched: every key changes, pip runs again
    results["base patch: boxwise build onto it (warm cache, new keys)"] = timed(rebuild, env=env)[0]
    for name in (tag, docker_tag, f"{PREFIX}-local/hello:rebased", patched):
        subprocess.run(["docker", "rmi", "-f", name], capture_output=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="boxwise-python:bookworm")
    args = parser.parse_args()
    run(["bash", str(REPO / "scripts" / "base-image.sh")])
    with tempfile.TemporaryDirectory(prefix="boxwise-bench-ci-") as tmp:
        work = Path(tmp)
        registry, host = start_registry(work)
        try:
            results = {**bench_pipelines(args.base, host, work), **bench_local(args.base, work)}
        finally:
            registry.terminate()
    print("| what | wall time |\n|---|---|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
