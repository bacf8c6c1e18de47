"""Fixtures of the CI-face tests (helpers live in facelib.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .facelib import SAMPLE_APPS, SAMPLE_ORIGIN, GitLabHost, git


@pytest.fixture
def sample_repo(make_git_repo: Callable[..., Path]) -> Path:
    """A monorepo with two apps, a GitLab-like origin, committed on main."""
    repo = make_git_repo(SAMPLE_APPS, name="shop")
    git(repo, "remote", "add", "origin", SAMPLE_ORIGIN)
    return repo


@pytest.fixture(scope="session")
def gitlab_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitLabHost]:
    """The sample repos' GitLab, holding this checkout as its boxwise project (see GitLabHost)."""
    host = GitLabHost(tmp_path_factory.mktemp("gitlab"))
    yield host
    host.stop()


@pytest.fixture(scope="session")
def remove_face_images(engine: str) -> Iterator[None]:
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


@pytest.fixture(autouse=True)
def _engine_tests_clean_up(request: pytest.FixtureRequest) -> None:
    """Only a session that runs an engine test calls `docker`: a machine without one runs the rest."""
    if request.node.get_closest_marker("engine") is not None:
        request.getfixturevalue("remove_face_images")
