"""What a build asks of an engine base (its config, Python, python3 path, passwd and group) comes
from one pass over the saved image, in every layout `docker save` writes, and no layer is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from image.archives import docker_archive

from boxwise.builder.basescan import scan_saved
from boxwise.errors import UserError

LAYERS = [
    [
        ("f", "usr/lib/python3.11/os.py", 10),
        ("f", "usr/bin/python3", 10),
        ("f", "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        ("f", "etc/group", b"root:x:0:\n"),
    ],
    # a top layer with a newer Python of its own, a new passwd and the group file removed
    [
        ("f", "usr/local/lib/python3.13/os.py", 10),
        ("f", "usr/local/lib/python3.9/os.py", 10),
        ("f", "usr/local/bin/python3", 10),
        ("f", "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
        ("w", "etc/group"),
    ],
    [("f", "srv/data.bin", 5 << 20)],  # over the size held in memory: read as it passes
]


def chunks(path: Path, size: int = 65536):
    with path.open("rb") as stream:
        yield from iter(lambda: stream.read(size), b"")


@pytest.mark.parametrize(
    ("blobs", "gzip_layers"), [(False, False), (True, False), (True, True)], ids=["legacy", "blobs", "gzip"]
)
def test_the_top_most_layer_says_which_python_and_users_the_base_has(
    tmp_path: Path, blobs: bool, gzip_layers: bool
) -> None:
    archive = docker_archive(tmp_path / "base.tar", LAYERS, blobs=blobs, gzip_layers=gzip_layers)
    saved = scan_saved(chunks(archive), "--base handmade")
    assert b'"diff_ids"' in saved.config_bytes and len(saved.layers) == 3
    assert saved.python_version() == "3.13"  # 3.13 over 3.9 (numerically), and over the lower 3.11
    assert saved.python_path() == "/usr/local/bin/python3"
    users = saved.user_files()
    assert users["etc/passwd"].endswith(b"app:x:1000:1000::/home/app:/bin/sh\n")
    assert users["etc/group"] == b""  # whited out above: the build writes its own


def test_a_base_without_python_or_users_says_so(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "base.tar", [[("f", "bin/busybox", 10)]])
    saved = scan_saved(chunks(archive, 7), "--base handmade")
    assert (saved.python_version(), saved.python_path(), saved.user_files()) == ("", "", {})


def test_a_stream_that_is_not_a_saved_image_is_one_line(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "base.tar", [[("f", "bin/busybox", 10)]])
    cut = archive.read_bytes()[:1536]  # ends before manifest.json
    with pytest.raises(UserError, match=r"^--base x: the engine's saved image cannot be read"):
        scan_saved([cut], "--base x")
