"""Fixtures of the report area: the fake GitLab/GitHub API, fixed analyses, CI environments."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.report import FIXTURES

from .fakeapi import FakeServer


@pytest.fixture
def fake_api(clean_env: None) -> Iterator[FakeServer]:
    server = FakeServer().start()
    yield server
    server.stop()


@pytest.fixture
def analyses(tmp_path: Path) -> dict[str, Path]:
    """The fixed analyses as files a user would pass to `boxwise report`, in a folder that is no repo."""
    work = tmp_path / "work"
    work.mkdir()
    paths = {}
    for name in ("analysis-new.json", "analysis-baseline.json"):
        paths[name.removeprefix("analysis-").removesuffix(".json")] = work / name
        (work / name).write_text((FIXTURES / name).read_text())
    return paths


def _build(docker_client, context: Path, tag: str, dockerfile: str, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        (context / rel).write_bytes(data)
    (context / "Dockerfile").write_text(dockerfile)
    docker_client.images.build(path=str(context), tag=tag, network_mode="host", rm=True)


@pytest.fixture(scope="session")
def saved_images(
    busybox_image: str, docker_client, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Two real images on the busybox base, saved by `docker save`: a baseline and a change of it.

    The change keeps the base layer, grows /data/app.txt, adds /data/big.bin, drops /data/old.txt,
    and copies /data/waste.bin only to delete it in a later layer (a whiteout: wasted bytes).
    """
    import subprocess

    root = tmp_path_factory.mktemp("report-images")
    images = {
        "baseline": (
            f"FROM {busybox_image}\nCOPY data/ /data/\n",
            {"data/app.txt": b"a" * 1000, "data/old.txt": b"o" * 3000},
        ),
        "new": (
            f'FROM {busybox_image}\nCOPY data/ /data/\nRUN ["/bin/busybox", "rm", "/data/waste.bin"]\n',
            {
                "data/app.txt": b"b" * 5000,
                "data/big.bin": bytes(range(256)) * 800,
                "data/waste.bin": b"w" * 50_000,
            },
        ),
    }
    saved = {}
    for name, (dockerfile, files) in images.items():
        tag = f"boxwise-test-report-{name}:latest"
        _build(docker_client, root / name, tag, dockerfile, files)
        saved[name] = root / f"{name}.tar"
        subprocess.run(["docker", "save", "-o", str(saved[name]), tag], check=True)
    return saved
