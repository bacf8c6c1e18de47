"""Issue 12 item 12: what reaches a CI log, a slow parse, symlinks out of an extracted archive,
and a gzip guard that refused real layers.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
import tarfile
import zlib
from pathlib import Path

import pytest
from support.cli import run_boxwise

from tests.image.archives import layer_tar, sha

from .rawarchive import add

HOSTILE_NAME = ".env.\n::warning title=pwned::owned\x1b[2J\x1b[31m"


def test_control_characters_in_file_names_never_reach_the_log_raw(make_git_repo) -> None:
    repo = make_git_repo({"apps/a/Procfile": "web: python -m a\n", f"apps/a/{HOSTILE_NAME}": "X=1\n"})
    for fmt in ("text", "github"):
        result = run_boxwise("detect", "--format", fmt, cwd=repo)
        assert "Traceback" not in result.stderr
        assert "\x1b" not in result.stdout + result.stderr
        commands = [line for line in result.stdout.splitlines() if line.startswith("::")]
        assert not [line for line in commands if line.startswith("::warning title=pwned")], commands
        if fmt == "text":
            assert not commands
            assert "\\n::warning title=pwned::owned\\x1b[2J" in result.stdout  # shown, escaped


@pytest.mark.slow
def test_a_key_of_thousands_of_dotted_parts_is_refused_unparsed(make_git_repo) -> None:
    # tomllib is quadratic in a key's parts (100,000 parts: minutes and tens of GiB); 5,000 keeps
    # this test harmless on code without the guard
    key = ".".join(["k"] * 5000)
    repo = make_git_repo(
        {
            "apps/a/pyproject.toml": f'[project]\nname = "a"\nversion = "1"\n{key} = 1\n',
            "apps/a/Procfile": "web: x\n",
        }
    )
    result = run_boxwise("detect", "--format", "json", cwd=repo)
    findings = json.loads(result.stdout)["findings"]
    assert [f["message"] for f in findings if f["rule"] == "toml-syntax"] == [
        "not parsed: line 4 has a key of more than 256 dotted parts"
    ]


def test_an_extracted_archive_folder_is_not_left_through_symlinks(tmp_path) -> None:
    outside = tmp_path / "runner"
    outside.mkdir()
    host_layer = layer_tar([("f", "home/runner/.ssh/id_rsa", 400)])
    (outside / "host.tar").write_bytes(host_layer)
    config = json.dumps({"os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha(host_layer)]}})
    (outside / "manifest.json").write_text(json.dumps([{"Config": "c.json", "Layers": ["0/layer.tar"]}]))
    folder = tmp_path / "extracted"
    (folder / "0").mkdir(parents=True)
    (folder / "c.json").write_text(config)
    (folder / "manifest.json").symlink_to(outside / "manifest.json")
    (folder / "0" / "layer.tar").symlink_to(outside / "host.tar")
    result = run_boxwise("inspect", f"docker-archive:{folder}", "--format", "json")
    assert "id_rsa" not in result.stdout
    assert result.returncode == 2 and "points outside the image folder" in result.stderr, result.stderr


def _compressible_layer_archive(path: Path, size: int) -> Path:
    """A docker-archive with one gzip layer: a tar of one file of `size` bytes, mostly zeros with a
    little noise in every 64 KiB (about 300:1, like a sparse database file; the old guard refused
    anything over 200:1 past 1 GiB)."""
    header = tarfile.TarInfo("data/zeros.bin")
    header.size = size
    noise = random.Random(12)
    chunk = b"".join(noise.randbytes(150) + bytes(65536 - 150) for _ in range(16))  # deflate sees 32 KiB
    plain = hashlib.sha256()
    crc, length = 0, 0

    def counted(data: bytes) -> bytes:  # into the diff_id and the gzip trailer
        nonlocal crc, length
        plain.update(data)
        crc, length = zlib.crc32(data, crc), length + len(data)
        return data

    def deflated(data: bytes, mode: int = zlib.Z_FULL_FLUSH) -> bytes:
        return packer.compress(data) + packer.flush(mode)

    # One gzip member, its frame written here around raw deflate. After a full flush deflate starts
    # afresh (no reference back), so one compressed chunk stands for every whole chunk: putting the
    # 1.1 GiB through deflate took 4 s of this test's 12.
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    blob = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"]
    blob.append(deflated(counted(header.tobuf(format=tarfile.PAX_FORMAT))))
    whole, rest = divmod(size, len(chunk))
    packed = deflated(chunk)
    for _ in range(whole):
        blob.append(packed)
        counted(chunk)
    blob.append(deflated(counted(chunk[:rest] + bytes(-size % 512 + 1024)), zlib.Z_FINISH))
    blob.append(struct.pack("<II", crc, length & 0xFFFFFFFF))
    data = b"".join(blob)
    config = json.dumps(
        {"os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + plain.hexdigest()]}}
    )
    with tarfile.open(path, "w") as tar:
        add(tar, "0/layer.tar", data)
        add(tar, "c.json", config.encode())
        add(tar, "manifest.json", json.dumps([{"Config": "c.json", "Layers": ["0/layer.tar"]}]).encode())
    return path


@pytest.mark.slow
def test_a_real_layer_of_over_a_gib_of_compressible_data_reads_and_the_ratio_is_configurable(
    tmp_path,
) -> None:
    archive = _compressible_layer_archive(tmp_path / "zeros.tar", (1 << 30) + (100 << 20))
    env = {"XDG_CACHE_HOME": str(tmp_path / "c")}
    result = run_boxwise("inspect", f"docker-archive:{archive}", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["size_bytes"] == (1 << 30) + (100 << 20)
    strict = run_boxwise(
        "inspect",
        f"docker-archive:{archive}",
        env={**env, "XDG_CACHE_HOME": str(tmp_path / "c2"), "BOXWISE_GZIP_RATIO": "100"},
    )
    assert strict.returncode == 2 and "BOXWISE_GZIP_RATIO" in strict.stderr, strict.stderr
