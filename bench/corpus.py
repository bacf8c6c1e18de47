"""The app corpus (tests/corpus) built three ways: boxwise, an s2i-style and a multi-stage Dockerfile.

    python bench/corpus.py [--base boxwise-python:bookworm] [--apps NAME,NAME] [--keep]

For every app of tests/corpus/manifest.toml that must answer HTTP: a cold build (boxwise with an
empty layer cache; `docker build --no-cache`), the image size, the startup time (from starting the
container with PORT set to the first HTTP answer on the manifest's path, any status) and the memory
in use just after that answer (one `docker stats` reading: usage less page cache, as `docker stats`
shows it). The Dockerfiles are the two of bench/build_compare.py, made to fit each app:

- s2i-style: COPY the app, make a venv and pip install in one RUN, then `chown -R` and `chmod -R`
  the app root (what s2i's fix-permissions does), USER 1001.
- multi-stage: a build stage makes the venv (from the requirement files alone when the app has no
  project of its own to install), the final stage copies the venv and the app, USER 1000. Unlike
  build_compare.py's, the app is copied owned by that user: Django's runserver must create its
  SQLite file in the app folder, and the image would not start otherwise.

Both install `requirements.txt` and/or the project itself (`pip install .` for a setup.py or a
pyproject.toml project), and run the manifest's `command`: the web command the sample documents
for its own platform. Apps whose only dependency file is a lock file (Pipfile.lock, poetry.lock)
get no Dockerfile ("n/a"): pip cannot install those. Every build reaches PyPI through this
machine's proxy; the CA bundle goes to boxwise with --ca-cert and to the Dockerfile builds as a
build-context file (as in build_compare.py). Prints a markdown table for tests/corpus/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "corpus"))
from manifest import CorpusApp, load_manifest  # noqa: E402  (tests/corpus/manifest.py)

PREFIX = "boxwise-bench-corpus"
CA = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
ANSWER_TIMEOUT = 60.0
BUILDS = ("boxwise", "s2i", "multistage")

S2I_DOCKERFILE = """\
FROM {base}
COPY . /opt/app-root/src
WORKDIR /opt/app-root/src
RUN python3 -m venv /opt/app-root \\
 && PIP_CERT=/opt/app-root/src/ca.crt /opt/app-root/bin/pip install {install}
RUN chown -R 1001:0 /opt/app-root && chmod -R g+rw /opt/app-root
USER 1001
ENV PATH=/opt/app-root/bin:$PATH PYTHONUNBUFFERED=1
CMD exec {command}
"""

MULTISTAGE_DOCKERFILE = """\
FROM {base} AS deps
WORKDIR /app
COPY {deps_files} /app/
RUN python3 -m venv /venv \\
 && PIP_CERT=/app/ca.crt /venv/bin/pip install --no-cache-dir {install}

FROM {base}
COPY --from=deps /venv /venv
COPY --chown=1000:1000 . /app
WORKDIR /app
USER 1000:1000
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1
CMD exec {command}
"""


@dataclass
class Result:
    """One app built one way; `problem` says why a figure is missing."""

    cold: float | None = None
    size: int | None = None
    startup: float | None = None
    memory: int | None = None
    status: int | None = None
    problem: str = ""


def is_project(app: Path) -> bool:
    """A project pip can install itself: setup.py, or a pyproject.toml with [project] or [build-system]."""
    if (app / "setup.py").is_file():
        return True
    pyproject = app / "pyproject.toml"
    if not pyproject.is_file():
        return False
    text = pyproject.read_text()
    poetry_only = "[tool.poetry]" in text and "[project]" not in text
    return not poetry_only and bool(re.search(r"^\[(project|build-system)\]", text, re.MULTILINE))


def install_args(app: Path) -> tuple[str, bool] | None:
    """pip install's arguments for the app, and whether they need the whole app (not just requirements)."""
    requirements = (app / "requirements.txt").read_text() if (app / "requirements.txt").is_file() else None
    project = is_project(app)
    if requirements is None and not project:
        return None
    # `-e .` (or `.`) in requirements.txt installs the app already; naming it twice makes pip fail.
    lists_app = requirements is not None and re.search(r"^\s*(-e\s+)?\.\/?\s*$", requirements, re.MULTILINE)
    parts = ["-r requirements.txt"] if requirements is not None else []
    if project and not lists_app:
        parts.append(".")
    return " ".join(parts), bool(project or lists_app)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answer(port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def memory_in_use(client, container) -> int | None:
    """One stats reading: usage less page cache (inactive_file on cgroup v2), as `docker stats` shows."""
    stats = container.stats(stream=False).get("memory_stats") or {}
    detail = stats.get("stats") or {}
    cache = detail.get("inactive_file", detail.get("total_inactive_file", 0)) or 0
    usage = stats.get("usage") or 0
    return max(int(usage) - int(cache), 0) if usage else None


def start_and_measure(client, tag: str, path: str, result: Result) -> None:
    port = free_port()
    container = client.containers.create(
        tag, detach=True, network_mode="host", environment={"PORT": str(port)}, name=f"{PREFIX}-run"
    )
    try:
        started = time.monotonic()
        try:
            container.start()
        except Exception as error:  # docker.errors.APIError: e.g. the command is not in the image
            result.problem = f"does not start: {getattr(error, 'explanation', error)}"[:160]
            return
        while (status := answer(port, path)) is None:
            container.reload()
            if container.status in ("exited", "dead") or time.monotonic() - started > ANSWER_TIMEOUT:
                tail = container.logs(tail=3).decode(errors="replace").strip().splitlines()
                result.problem = f"no answer ({container.status}): {tail[-1][:120] if tail else ''}"
                return
            time.sleep(0.05)
        result.startup = time.monotonic() - started
        result.memory = memory_in_use(client, container)
        result.status = status
    finally:
        container.remove(force=True)


def image_size(client, tag: str) -> int:
    return int(client.images.get(tag).attrs["Size"])


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:120] if lines else ""


def build_and_measure(client, app: CorpusApp, tag: str, command: list[str], env: dict[str, str]) -> Result:
    """Run one cold build, then start the image and take its figures."""
    result = Result()
    started = time.monotonic()
    build = subprocess.run(command, capture_output=True, text=True, env=env)
    if build.returncode != 0:
        result.problem = f"build failed: {last_line(build.stderr or build.stdout)}"
        return result
    result.cold = time.monotonic() - started
    result.size = image_size(client, tag)
    start_and_measure(client, tag, app.path, result)
    if result.status is not None and result.status not in app.status:
        result.problem = f"answered {result.status} on {app.path}, expected {list(app.status)}"
    return result


def bench_boxwise(client, app: CorpusApp, base: str, work: Path) -> Result:
    source = shutil.copytree(app.folder, work / "boxwise" / app.name)
    tag = f"{PREFIX}/{app.name}:boxwise"
    command = [sys.executable, "-m", "boxwise", "build", str(source), "--base", base, "--tag", tag]
    command += ["--cache", str(work / "boxwise-cache"), "--ca-cert", str(CA)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}  # this tree's boxwise
    return build_and_measure(client, app, tag, command, env)


def bench_dockerfile(client, app: CorpusApp, kind: str, base: str, work: Path) -> Result:
    install = install_args(app.folder)
    if install is None:
        return Result(problem="n/a")
    args, needs_app = install
    source = shutil.copytree(app.folder, work / kind / app.name)
    shutil.copyfile(CA, source / "ca.crt")
    if kind == "s2i":
        dockerfile = S2I_DOCKERFILE.format(base=base, install=args, command=app.command)
    else:
        deps = "." if needs_app else "requirements.txt ca.crt"
        dockerfile = MULTISTAGE_DOCKERFILE.format(
            base=base, install=args, command=app.command, deps_files=deps
        )
    (source / "Dockerfile").write_text(dockerfile)
    tag = f"{PREFIX}/{app.name}:{kind}"
    command = ["docker", "build", "--network", "host", "--no-cache", "-q", "-t", tag, str(source)]
    return build_and_measure(client, app, tag, command, {**os.environ, "DOCKER_BUILDKIT": "0"})


def remove_images(client, names: list[str]) -> None:
    for name in names:
        for kind in BUILDS:
            with contextlib.suppress(Exception):
                client.images.remove(f"{PREFIX}/{name}:{kind}", force=True)


def cell(results: dict[str, Result], figure: str, fmt) -> str:
    values = []
    for kind in BUILDS:
        result = results[kind]
        value = getattr(result, figure)
        values.append(fmt(value) if value is not None else ("n/a" if result.problem == "n/a" else "✗"))
    return " / ".join(values)


def table(results: dict[str, dict[str, Result]]) -> str:
    lines = [
        "| app | cold build (s) | image size (MB) | startup (s) | memory after start (MiB) |",
        "|---|---|---|---|---|",
    ]
    for name, by_kind in results.items():
        lines.append(
            f"| {name} | {cell(by_kind, 'cold', lambda v: f'{v:.1f}')} "
            f"| {cell(by_kind, 'size', lambda v: f'{v / 1e6:.0f}')} "
            f"| {cell(by_kind, 'startup', lambda v: f'{v:.2f}')} "
            f"| {cell(by_kind, 'memory', lambda v: f'{v / 2**20:.0f}')} |"
        )
    lines.append("")
    lines.append(
        "Each cell: boxwise / s2i-style Dockerfile / multi-stage Dockerfile. ✗: see below; n/a: no pip file."
    )
    problems = [
        f"- {name}, {kind}: {result.problem}"
        for name, by_kind in results.items()
        for kind, result in by_kind.items()
        if result.problem and result.problem != "n/a"
    ]
    return "\n".join(lines + (["", *problems] if problems else []))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="boxwise-python:bookworm", help="needs python3-venv (Dockerfiles)")
    parser.add_argument(
        "--apps", default="", help="comma-separated app names (default: every app that answers)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench images")
    args = parser.parse_args()

    import docker

    subprocess.run(["bash", str(REPO / "scripts" / "base-image.sh")], check=True, capture_output=True)
    wanted = {name for name in args.apps.split(",") if name}
    apps = [app for app in load_manifest() if app.expect == "answers" and (not wanted or app.name in wanted)]
    client = docker.from_env(timeout=600)
    remove_images(client, [app.name for app in apps])  # a cold build must find no earlier bench image
    results: dict[str, dict[str, Result]] = {}
    for app in apps:
        with tempfile.TemporaryDirectory(prefix="boxwise-bench-corpus-") as tmp:
            work = Path(tmp)
            results[app.name] = {
                "boxwise": bench_boxwise(client, app, args.base, work),
                "s2i": bench_dockerfile(client, app, "s2i", args.base, work),
                "multistage": bench_dockerfile(client, app, "multistage", args.base, work),
            }
        if not args.keep:
            remove_images(client, [app.name])
        print(f"bench: {app.name} done", file=sys.stderr, flush=True)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
