"""Fixtures shared by every test area: the real engine, a tiny base image, real git repos.

Each area (tests/detect, tests/image, tests/builder, tests/report, tests/faces) keeps its own
fixtures in its own conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUSYBOX_IMAGE = "boxwise-test/busybox:latest"


def run_boxwise(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "boxwise", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        input=input,
        timeout=900,
    )


SARIF_SCHEMA = REPO / "tests" / "sarif" / "sarif-schema-2.1.0.json"  # OASIS's; see SOURCE.md there


def validate_sarif(document: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema (formats checked too) of a SARIF log against the official 2.1.0 schema."""
    path = tmp_path / "boxwise.sarif"
    path.write_text(document, encoding="utf-8")
    tool = shutil.which(
        "check-jsonschema", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if tool is None:
        pytest.fail("check-jsonschema is not installed; run scripts/setup.sh")
    command = [tool, "--schemafile", str(SARIF_SCHEMA), str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def engine() -> str:
    """A running Docker engine; in CI a test that needs one fails (never skips) without it."""
    result = subprocess.run(["bash", str(REPO / "scripts" / "engine.sh")], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"no Docker engine: {result.stdout}{result.stderr}")
    return result.stdout.strip()


@pytest.fixture(scope="session")
def docker_client(engine: str):
    import docker

    client = docker.from_env(timeout=600)
    yield client
    client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`FROM scratch` + Debian's static busybox, built once per session."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    context = tmp_path_factory.mktemp("busybox-base")
    shutil.copy2(busybox, context / "busybox")
    (context / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    docker_client.images.build(path=str(context), tag=BUSYBOX_IMAGE, network_mode="host", rm=True)
    return BUSYBOX_IMAGE


@pytest.fixture(scope="session")
def python_base(engine: str) -> str:
    """boxwise's default run base image (Debian minbase + python3), made once per machine."""
    script = REPO / "scripts" / "base-image.sh"
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(f"scripts/base-image.sh failed: {result.stdout}{result.stderr}")
    return "boxwise-python:bookworm"


@pytest.fixture(scope="session")
def python_base_trixie(engine: str) -> str:
    """The same base made from Debian trixie (Python 3.13), made once per machine (about a minute)."""
    script = REPO / "scripts" / "base-image.sh"
    command = ["bash", str(script), "--suite", "trixie"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(f"scripts/base-image.sh --suite trixie failed: {result.stdout}{result.stderr}")
    return "boxwise-python:trixie"


@pytest.fixture
def local_registry(tmp_path: Path, engine: str) -> Iterator[str]:
    """A real registry (Debian's docker-registry) on a free loopback port; the engine allows 127/8."""
    with start_registry(tmp_path) as host:
        yield host


@contextlib.contextmanager
def start_registry(folder: Path) -> Iterator[str]:
    """docker-registry serving from `folder` on a free loopback port, while the block runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'registry-data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    # its access log stays in the folder (registry.log): a test may count the requests it received
    with open(folder / "registry.log", "wb") as log:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("docker-registry did not start")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def make_git_repo(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    """A real git repo in a temp folder holding the given files, committed once."""

    def make(files: dict[str, str | bytes], name: str = "repo") -> Path:
        repo = tmp_path / name
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        git(repo, "config", "user.email", "test@example.com")
        git(repo, "config", "user.name", "boxwise test")
        git(repo, "config", "commit.gpgsign", "false")
        for rel, content in files.items():
            path = repo / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "initial")
        return repo

    return make


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CI variables from the machine running the tests leak into a test."""
    for key in list(os.environ):
        if key.startswith(("CI_", "GITLAB_", "GITHUB_", "BOXWISE_")):
            monkeypatch.delenv(key, raising=False)
    yield
