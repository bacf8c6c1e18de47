"""Oracle images: built once per session in the real engine, saved once, analysed once by real dive."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support.oracle import BUSYBOX, ENGINE_CASES, PREFIX, DiveRun, run_dive


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test reads layers afresh into its own cache folder (the CLI children inherit it)."""
    cache = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


@pytest.fixture(scope="session")
def dive_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dive")


@pytest.fixture(scope="session")
def engine_archives(
    docker_client, busybox_image, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Every ENGINE_CASES image, built in the real engine and `docker save`d once."""
    context = tmp_path_factory.mktemp("oracle-context")
    shutil.copy2(BUSYBOX, context / "busybox")
    (context / "f10k").write_bytes(b"a" * 10_000)
    (context / "f4k").write_bytes(b"b" * 4_000)
    (context / "d").mkdir()
    (context / "d" / "x6k").write_bytes(b"c" * 6_000)
    (context / "d" / "y3k").write_bytes(b"e" * 3_000)
    out = tmp_path_factory.mktemp("oracle-archives")
    archives = {}
    for case, body in ENGINE_CASES.items():
        (context / "Dockerfile").write_text(body.format(base=busybox_image))
        tag = f"{PREFIX}-{case}:latest"
        docker_client.images.build(path=str(context), tag=tag, network_mode="host", rm=True)
        archives[case] = out / f"{case}.tar"
        subprocess.run(["docker", "save", tag, "-o", str(archives[case])], check=True)
    return archives


@pytest.fixture(scope="session")
def engine_dive(engine_archives: dict[str, Path], dive_workdir: Path) -> dict[str, DiveRun]:
    return {case: run_dive(path, dive_workdir) for case, path in engine_archives.items()}
