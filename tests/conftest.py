"""Fixtures shared by every test area: the real engine, a tiny base image, real git repos.

Each area (tests/detect, tests/image, tests/builder, tests/report, tests/faces) keeps its own
fixtures in its own conftest.py. A conftest holds fixtures and hooks only: the helpers test modules
import live in the tests/support package (imported as `support.*`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.cli import REPO
from support.git import git
from support.registry import start_registry

BUSYBOX_IMAGE = "boxwise-test/busybox:latest"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test whose fixtures need the engine must carry the `engine` marker, so that
    `pytest -m "not engine"` runs on a machine without one: an unmarked one stops the run."""
    unmarked = [
        item.nodeid
        for item in items
        if "engine" in getattr(item, "fixturenames", ()) and item.get_closest_marker("engine") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use the engine fixture without @pytest.mark.engine: " + ", ".join(unmarked)
        )


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
