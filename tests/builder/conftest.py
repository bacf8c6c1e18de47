"""Fixtures of the build tests: the real base image (debootstrap, cached per machine) and cleanup."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from support.pybase import PythonRegistry, derived_image, python_version
from support.registry import start_registry

from .helpers import BASE, PREFIX


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


@pytest.fixture(scope="session")
def remove_test_images(engine: str) -> Iterator[None]:
    """No image of an earlier, interrupted session (a build would take its layers), none left after.

    Only ours: the boxwise-test-build/ prefix.
    """
    _remove_our_images()
    yield
    _remove_our_images()


@pytest.fixture(autouse=True)
def _engine_tests_start_clean(request: pytest.FixtureRequest) -> None:
    """Only a session that runs an engine test touches the engine: `pytest -m "not engine"` must
    not reach a Docker engine (nor delete the images another session's engine run is using)."""
    if request.node.get_closest_marker("engine") is not None:
        request.getfixturevalue("remove_test_images")


@pytest.fixture(scope="module")
def python_registry(
    docker_client, base_image: str, python_base_trixie: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PythonRegistry]:
    with start_registry(tmp_path_factory.mktemp("python-registry")) as host:
        versions = {}
        for base in (base_image, python_base_trixie):
            full = python_version(docker_client, base)
            minor = ".".join(full.split(".")[:2])
            with derived_image(docker_client, base, f"PYTHON_VERSION={full}") as local:
                remote = f"{host}/python:{minor}-slim"
                docker_client.images.get(local).tag(remote)
                for event in docker_client.api.push(remote, stream=True, decode=True):
                    assert "error" not in event, event
                docker_client.images.remove(remote)  # only the name: builds must pull it
            versions[minor] = full
        yield PythonRegistry(host, versions)
        for name in (f"{host}/python:{minor}-slim" for minor in versions):
            with contextlib.suppress(Exception):
                docker_client.images.remove(name)
