"""Python base images for the build tests: derived images and the Python version an image runs."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class PythonRegistry:
    """A local registry serving python:3.11-slim (bookworm) and python:3.13-slim (trixie) as the
    official images are published: each declares its PYTHON_VERSION. The engine has only the
    repository under another name, so a build that uses them pulls them."""

    host: str
    versions: dict[str, str]  # "3.11" -> "3.11.2"

    @property
    def template(self) -> str:
        return f"{self.host}/python:{{python}}-slim"


@contextlib.contextmanager
def derived_image(client, base: str, env: str) -> Iterator[str]:
    """`FROM base` + `ENV env`, under a name of this process's own (other sessions on this engine
    remove the shared test prefix), removed afterwards."""
    tag = f"boxwise-test-derived-{uuid.uuid4().hex[:10]}/image:1"
    client.images.build(fileobj=io.BytesIO(f"FROM {base}\nENV {env}\n".encode()), tag=tag, rm=True)
    try:
        yield tag
    finally:
        with contextlib.suppress(Exception):
            client.images.remove(tag)


def python_version(client, image: str) -> str:
    out = client.containers.run(
        image, ["python3", "-c", "import platform; print(platform.python_version())"], remove=True
    )
    return out.decode().strip()
