"""Fixtures of the build tests: the real base image (debootstrap, cached per machine) and cleanup."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import BASE, PREFIX

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def base_image(python_base: str) -> str:
    """boxwise-python:bookworm (the shared `python_base` fixture runs scripts/base-image.sh)."""
    assert python_base == BASE
    return BASE


def _remove_our_images() -> None:
    import docker

    with contextlib.suppress(docker.errors.DockerException):
        client = docker.from_env()
        for image in client.images.list(name=f"{PREFIX}/*"):
            for tag in image.tags:
                if tag.startswith(f"{PREFIX}/"):
                    client.images.remove(tag, force=True)


@pytest.fixture(scope="session", autouse=True)
def remove_test_images() -> Iterator[None]:
    """No image of an earlier, interrupted session (a build would take its layers), none left after.

    Only ours: the boxwise-test-build/ prefix.
    """
    _remove_our_images()
    yield
    _remove_our_images()
