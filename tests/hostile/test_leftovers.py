"""Issue 12 item 11: nothing is left behind by a build or a read that was killed.

`kill -9` of `boxwise build` used to leave its build container running a sleep loop forever; a
writer killed mid-write left `.tmp-*` files in the shared cache for good.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cli import run_boxwise

from tests.builder.helpers import PREFIX, WEB_APP, write_app
from tests.image.archives import docker_archive


def _ours(docker_client, hint: str) -> list:
    return [
        c
        for c in docker_client.containers.list(
            all=True, filters={"label": "boxwise.build=1"}, ignore_removed=True
        )
        if hint in c.name
    ]


@pytest.mark.engine
def test_kill_9_of_a_build_leaves_no_container(base_image, docker_client, tmp_path) -> None:
    hint = f"killed{secrets.token_hex(3)}"
    app = write_app(
        tmp_path / hint,
        {"requirements.txt": "six==1.16.0\n", "Procfile": "web: python3 app.py\n", "app.py": WEB_APP},
    )
    build = subprocess.Popen(
        [sys.executable, "-m", "boxwise", "build", str(app), "--base", base_image,
         "--tag", f"{PREFIX}/{hint}:1", "--cache", str(tmp_path / "cache")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy(),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _ours(docker_client, hint):
            assert build.poll() is None, "the build ended before its container was seen"
            assert time.monotonic() < deadline, "no build container appeared"
            time.sleep(0.05)
    finally:
        build.kill()  # SIGKILL: no handler, no finally, no atexit
        build.wait()
    deadline = time.monotonic() + 30
    while _ours(docker_client, hint) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = _ours(docker_client, hint)
    for container in left:  # the test cleans up after a failure, only what it made
        container.remove(force=True)
    assert not left, f"{[c.name for c in left]} still there 30 s after the build was killed"


def test_stale_temporary_files_are_swept_and_fresh_ones_kept(tmp_path) -> None:
    cache = tmp_path / "xdg"
    folder = cache / "boxwise" / "layer-index"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".tmp-4242-1-sha256-dead", folder / ".tmp-4243-2-sha256-beef"
    for path in (stale, fresh):
        path.write_bytes(b"half a write")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    archive = docker_archive(tmp_path / "a.tar", [[("f", "a", 3)]])
    result = run_boxwise("inspect", f"docker-archive:{archive}", env={"XDG_CACHE_HOME": str(cache)})
    assert result.returncode == 0, result.stderr
    assert not stale.exists(), "a stale temporary file stayed in the cache"
    assert fresh.exists(), "a write in progress (another job) must not lose its file"
    assert [p.name for p in folder.iterdir() if p.name.startswith("sha256-")]  # the index was stored


def test_the_build_cache_sweeps_a_killed_writers_blob(tmp_path) -> None:
    from boxwise.builder.cache import LayerCache

    cache = LayerCache(Path(tmp_path / "cache"), "app")
    cache.blobs.mkdir(parents=True)
    stale = cache.blobs / f".{'a' * 64}.tar.4242.tmp"
    stale.write_bytes(b"x" * 100)
    old = time.time() - 2 * 86400
    os.utime(stale, (old, old))
    cache.collect_garbage()
    assert not stale.exists()
