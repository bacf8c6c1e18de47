"""Real public sample apps: `boxwise build` each one, run the image with PORT, and GET it over HTTP.

Every app of manifest.toml is built on boxwise-plain:bookworm (python3 alone: no `python`, no venv,
no pip); the apps marked `both_bases` also on boxwise-python:bookworm, and all of them with
BOXWISE_CORPUS=full. An app that must answer is run with no arguments (the image's default process)
on the host network with PORT set, and must answer GET `path` with an expected status within 60 s.
An app that must be refused must make `boxwise build` exit 2 with one line naming the problem.
"""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from support.cli import REPO, run_boxwise
from support.corpus import PREFIX

from .manifest import NEEDS, CorpusApp, load_manifest

pytestmark = [pytest.mark.engine, pytest.mark.slow]

BASES = {"plain": "plain_base", "python": "python_base"}  # tag suffix → fixture giving the base image
FIRST_BASE = "plain"
ANSWER_TIMEOUT = 60.0
FULL = os.environ.get("BOXWISE_CORPUS", "") == "full"


def cases() -> list[Any]:
    params = []
    for app in load_manifest():
        # One worker builds an app on its bases in turn (they share its layer cache, removed after
        # the last: 29 caches kept to the end filled a CI runner's disk).
        marks = [pytest.mark.xdist_group(f"corpus-{app.name}")]
        if app.needs:
            marks.append(pytest.mark.xfail(reason=NEEDS[app.needs], strict=False))
        for base in app_bases(app):
            params.append(pytest.param(app, base, id=f"{app.name}-{base}", marks=marks))
    return params


def app_bases(app: CorpusApp) -> list[str]:
    return [base for base in BASES if base == FIRST_BASE or FULL or app.both_bases]


@pytest.mark.usefixtures("corpus_cleanup")
@pytest.mark.parametrize(("app", "base"), cases())
def test_corpus_app(
    app: CorpusApp,
    base: str,
    request: pytest.FixtureRequest,
    docker_client,
    corpus_caches: Path,
    tmp_path: Path,
) -> None:
    base_image = request.getfixturevalue(BASES[base])
    source = shutil.copytree(app.folder, tmp_path / app.name)  # the vendored files are never written to
    tag = f"{PREFIX}/{app.name}:{base}"
    build = run_boxwise(
        *("build", str(source), "--base", base_image, "--tag", tag, "--cache", str(corpus_caches / app.name)),
        env={"PYTHONPATH": str(REPO / "src")},
    )
    try:
        if app.expect == "refused":
            assert_refused(app, build)
        else:
            # A fresh name each time: a container still being removed must not block the next run.
            assert_answers(
                app, build, docker_client, tag, f"{PREFIX}-{app.name}-{base}-{secrets.token_hex(3)}"
            )
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
        if base == app_bases(app)[-1]:
            shutil.rmtree(corpus_caches / app.name, ignore_errors=True)


def assert_refused(app: CorpusApp, build: subprocess.CompletedProcess[str]) -> None:
    output = build.stdout + build.stderr
    if build.returncode != 2:
        fail(f"not refused: build exit {build.returncode} (expected 2 and {app.error})", build_tail=output)
    lines = [line for line in build.stderr.splitlines() if all(part in line for part in app.error)]
    if not lines:
        fail(f"refused, but no one line holds all of {list(app.error)}", build_tail=output)
    if "Traceback" in output:
        fail("refused with a traceback", build_tail=output)


def assert_answers(
    app: CorpusApp, build: subprocess.CompletedProcess[str], client: Any, tag: str, name: str
) -> None:
    output = build.stdout + build.stderr
    if build.returncode != 0:
        fail(f"build failed (exit {build.returncode}): {last_line(output)}", build_tail=output)
    missing = [said for said in app.build_says if said not in output]
    if missing:
        fail(f"the build never said {missing[0]!r}", build_tail=output)
    unreadable = files_not_readable(client, tag, app.image_files)
    if unreadable:
        fail(f"the run user cannot read {unreadable[0]} in the image", build_tail=output)
    port = free_port()
    container = client.containers.run(
        tag, detach=True, network_mode="host", environment={"PORT": str(port)}, name=name
    )
    try:
        status, problem = wait_for_answer(container, port, app.path)
        if problem:
            logs = container_logs(container)
            fail(f"did not answer GET {app.path}: {problem}: {last_line(logs)}", build_tail=output, logs=logs)
        if status not in app.status:
            logs = container_logs(container)
            fail(f"answered {status} on {app.path}, expected one of {list(app.status)}", logs=logs)
    finally:
        container.remove(force=True)


def files_not_readable(client: Any, tag: str, paths: tuple[str, ...]) -> list[str]:
    """The paths the image's run user cannot read (a shell loop of `test -r`, as that user)."""
    if not paths:
        return []
    script = 'for f in "$@"; do test -r "$f" || echo "$f"; done'
    out = client.containers.run(tag, ["sh", *paths], entrypoint=["/bin/sh", "-c", script], remove=True)
    return out.decode(errors="replace").split()


def wait_for_answer(container: Any, port: int, path: str) -> tuple[int, str]:
    """(HTTP status, "") once the app answers; (0, why not) when it exits or stays silent."""
    started = time.monotonic()
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", path)  # http.client follows no redirect: the first answer counts
            return connection.getresponse().status, ""
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        container.reload()
        elapsed = time.monotonic() - started
        if container.status in ("exited", "dead"):
            code = container.attrs["State"]["ExitCode"]
            return 0, f"the process exited (code {code}) after {elapsed:.1f} s"
        if elapsed > ANSWER_TIMEOUT:
            return 0, f"no answer on PORT={port} within {ANSWER_TIMEOUT:.0f} s"
        time.sleep(0.25)


def container_logs(container: Any) -> str:
    time.sleep(0.5)  # a server logs the traceback of a 500 just after it answers
    return container.logs(tail=60).decode(errors="replace")


def fail(summary: str, build_tail: str = "", logs: str = "") -> None:
    """Fail with the one-line summary first (pytest's short report shows it), then the evidence."""
    parts = [summary]
    if build_tail:
        parts.append("--- last lines of the build ---\n" + "\n".join(build_tail.splitlines()[-40:]))
    if logs:
        parts.append("--- the container's logs ---\n" + logs)
    pytest.fail("\n".join(parts), pytrace=False)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "(no output)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
