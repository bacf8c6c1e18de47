"""A big archive is read and measured on two cores (boxwise.forked): the figures are the same as in
one process, and a layer that fails in the child fails as one line, exactly as without it.

These tests run the CLI in a child process of their own: pytest-xdist workers run threads, and
boxwise never forks a process that has other threads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .archives import docker_archive, settled

# Four layers, 40 MB and 6,000 files in all: over both thresholds (32 MB to read, 5,000 entries
# to measure), with files overwritten and whited out across layers so both accountings have work.
LAYERS = [
    [("d", "base"), *[("f", f"base/f{n:04d}", 100) for n in range(2_000)], ("f", "big/a.bin", 10_000_000)],
    [
        ("d", "base"),
        *[("f", f"base/f{n:04d}", 200) for n in range(0, 2_000, 2)],
        ("f", "big/b.bin", 10_000_000),
    ],
    [("w", "base/f0001"), ("w", "big/a.bin"), *[("f", f"new/g{n:04d}", 50) for n in range(2_000)]],
    [("f", "big/c.bin", 10_000_000), ("f", "big/b.bin", 10_000_001)],
]


def _inspect(ref: str, cache: Path, fork: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "BOXWISE_FORK": fork}
    return subprocess.run(
        [sys.executable, "-m", "boxwise", "inspect", "--format", "json", ref],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return settled(docker_archive(tmp_path_factory.mktemp("forked") / "big.tar", LAYERS))


def test_the_figures_are_the_same_on_two_cores_as_on_one(big_archive: Path, tmp_path: Path) -> None:
    one = _inspect(f"docker-archive:{big_archive}", tmp_path / "one", "0")
    two = _inspect(f"docker-archive:{big_archive}", tmp_path / "two", "1")
    assert one.returncode == two.returncode == 0, one.stderr + two.stderr
    assert one.stdout == two.stdout
    # and the caches the two wrote answer the same again
    assert _inspect(f"docker-archive:{big_archive}", tmp_path / "two", "1").stdout == one.stdout


def test_a_damaged_layer_in_the_childs_share_is_the_same_one_line(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "damaged.tar", LAYERS)
    data = bytearray(archive.read_bytes())
    # a tar header checksum broken in the first layer (the child's half: the largest layer, 20 MB,
    # is read here, the two 10 MB ones there)
    where = data.find(b"base/f0501")
    data[where + 148 : where + 154] = b"777777"
    archive.write_bytes(bytes(data))
    settled(archive)
    one = _inspect(f"docker-archive:{archive}", tmp_path / "one", "0")
    two = _inspect(f"docker-archive:{archive}", tmp_path / "two", "1")
    assert one.returncode == two.returncode == 2
    assert one.stderr == two.stderr and "corrupt tar header" in two.stderr and "Traceback" not in two.stderr


def test_the_work_runs_in_another_process_and_a_failure_there_hands_it_back() -> None:
    script = (
        "import os, threading\n"
        "from boxwise.forked import Forked\n"
        "print(Forked(os.getpid).result() not in (None, os.getpid()))\n"  # another process did it
        "print(Forked(lambda: 1 // 0).result())\n"  # it failed there: None, the caller does it
        "threading.Thread(target=threading.Event().wait, args=(2,), daemon=True).start()\n"
        "print(Forked(os.getpid).result())\n"  # other threads running: never forked
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "None", "None"], done.stderr
