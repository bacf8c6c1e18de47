"""Fixtures of the corpus tests: the two bases, a layer cache per app, and cleanup of what the run made."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import REPO
from support.corpus import PREFIX

# The vendored apps are data, not tests: never collect anything under apps/.
collect_ignore_glob = ["apps/*"]


@pytest.fixture(scope="session")
def plain_base(engine: str) -> str:
    """boxwise-plain:bookworm: Debian minbase with python3 and ca-certificates only (no `python`, no pip)."""
    script = REPO / "scripts" / "base-image.sh"
    result = subprocess.run(["bash", str(script), "--plain"], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.fail(f"scripts/base-image.sh --plain failed: {result.stdout}{result.stderr}")
    return "boxwise-plain:bookworm"


@pytest.fixture(scope="session")
def corpus_caches() -> Iterator[Path]:
    """One folder holding a layer cache per app, shared by the app's builds on both bases."""
    with tempfile.TemporaryDirectory(prefix="boxwise-corpus-cache-") as folder:
        yield Path(folder)


def _remove_ours() -> None:
    import docker

    with contextlib.suppress(docker.errors.DockerException):
        client = docker.from_env()
        for container in client.containers.list(
            all=True, filters={"name": f"{PREFIX}-"}, ignore_removed=True
        ):
            if container.name.startswith(f"{PREFIX}-"):
                container.remove(force=True)
        for image in client.images.list(name=f"{PREFIX}/*"):
            for tag in image.tags:
                if tag.startswith(f"{PREFIX}/"):
                    client.images.remove(tag, force=True)


@pytest.fixture(scope="session")
def corpus_cleanup(engine: str) -> Iterator[None]:
    """No container or image of an earlier, interrupted run; none left after. Only ours (the prefix)."""
    _remove_ours()
    yield
    _remove_ours()
