"""Fixtures of the CI-face tests (helpers live in facelib.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from facelib import REPO, SAMPLE_APPS, SAMPLE_ORIGIN, git


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
