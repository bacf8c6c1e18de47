"""Fixtures of the CI-face tests (helpers live in facelib.py)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .facelib import REPO, SAMPLE_APPS, SAMPLE_ORIGIN, git


@pytest.fixture
def sample_repo(make_git_repo: Callable[..., Path]) -> Path:
    """A monorepo with two apps, a GitLab-like origin, committed on main."""
    repo = make_git_repo(SAMPLE_APPS, name="shop")
    git(repo, "remote", "add", "origin", SAMPLE_ORIGIN)
    return repo


@pytest.fixture(scope="session")
def python_base(engine: str) -> str:
    """boxwise's default run base image (Debian minbase + python3), made once per machine."""
    script = REPO / "scripts" / "base-image.sh"
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(f"scripts/base-image.sh failed: {result.stdout}{result.stderr}")
    return "boxwise-python:bookworm"


@pytest.fixture(scope="session", autouse=True)
def remove_face_images() -> Iterator[None]:
    """The images the face tests build are named boxwise-test-faces/...; remove them afterwards."""
    yield
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "boxwise-test-faces/*"],
        capture_output=True,
        text=True,
    )
    names = [name for name in listed.stdout.split() if name.startswith("boxwise-test-faces/")]
    if names:
        subprocess.run(["docker", "rmi", "--force", *names], capture_output=True)


@pytest.fixture
def registry(tmp_path: Path, engine: str) -> Iterator[str]:
    """A real registry (Debian's docker-registry) on a free loopback port (the engine trusts 127/8)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'registry-data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
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
