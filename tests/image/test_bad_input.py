"""Bad images: one clear line, exit 2, no traceback, nothing written outside the cache folder."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from support.cli import run_boxwise

from boxwise.image.cache import IndexCache

from .archives import _add, docker_archive, layer_tar, settled, sha

SMALL = [[("d", "etc"), ("f", "etc/a", 100)], [("f", "etc/a", 50)]]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def inspect(ref: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    cache = cwd.parent / "cache"
    result = run_boxwise(
        "inspect", ref, "--format", "json", cwd=cwd, env={"XDG_CACHE_HOME": str(cache), **env}
    )
    # whatever happens, nothing lands in the working folder
    assert list(cwd.iterdir()) == [] or all(p.name.endswith((".tar", ".gz")) for p in cwd.iterdir())
    return result


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    # the guess for a bare path (`reading X as docker-archive:X`) may come first; the error is one line
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("boxwise: reading ")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("boxwise: error: ")
    assert "Traceback" not in result.stderr and result.stdout == ""
    for word in words:
        assert word in lines[0], lines[0]


def _archive_with(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            _add(tar, name, data)
    return path


def _one_layer_archive(path: Path, layer: bytes, config_extra: dict | None = None) -> Path:
    config = json.dumps(
        {"rootfs": {"type": "layers", "diff_ids": [sha(layer)]}, **(config_extra or {})}
    ).encode()
    manifest = json.dumps([{"Config": "c.json", "Layers": ["l/layer.tar"]}]).encode()
    return _archive_with(path, {"l/layer.tar": layer, "c.json": config, "manifest.json": manifest})


def test_truncated_archive(tmp_path: Path, workdir: Path) -> None:
    whole = docker_archive(tmp_path / "whole.tar", SMALL).read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole[:1536])
    assert_one_line(inspect(f"docker-archive:{cut}", workdir), str(cut), "truncated")


def test_truncated_layer(tmp_path: Path, workdir: Path) -> None:
    layer = layer_tar([("f", "big", 5000)])[:1024]  # header and part of the data
    archive = _one_layer_archive(tmp_path / "a.tar", layer)
    assert_one_line(inspect(str(archive), workdir), "truncated")


@pytest.mark.parametrize(
    ("members", "word"),
    [
        ({"manifest.json": b"{not json"}, "manifest.json"),
        ({"manifest.json": b'{"a": 1}'}, "manifest.json"),
        ({"x/layer.tar": layer_tar([("f", "a", 1)])}, "manifest.json"),
        (
            {"manifest.json": json.dumps([{"Config": "c.json", "Layers": ["gone/layer.tar"]}]).encode()},
            "c.json",
        ),
    ],
)
def test_bad_manifest(members: dict[str, bytes], word: str, tmp_path: Path, workdir: Path) -> None:
    archive = _archive_with(tmp_path / "bad.tar", members)
    assert_one_line(inspect(f"docker-archive:{archive}", workdir), word)


def test_layer_listed_but_absent(tmp_path: Path, workdir: Path) -> None:
    layer = layer_tar([("f", "a", 1)])
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [sha(layer), sha(layer)]}}).encode()
    manifest = json.dumps([{"Config": "c.json", "Layers": ["l/layer.tar", "gone/layer.tar"]}]).encode()
    archive = _archive_with(
        tmp_path / "a.tar", {"l/layer.tar": layer, "c.json": config, "manifest.json": manifest}
    )
    assert_one_line(inspect(str(archive), workdir), "gone/layer.tar", "absent")


def test_digest_mismatch(tmp_path: Path, workdir: Path) -> None:
    layer = layer_tar([("f", "a", 1)])
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}).encode()
    wrong = "blobs/sha256/" + "0" * 64
    manifest = json.dumps([{"Config": wrong, "Layers": [f"blobs/sha256/{sha(layer)[7:]}"]}]).encode()
    archive = _archive_with(
        tmp_path / "a.tar",
        {f"blobs/sha256/{sha(layer)[7:]}": layer, wrong: config, "manifest.json": manifest},
    )
    assert_one_line(inspect(str(archive), workdir), "digest mismatch")
    # an uncompressed layer blob whose name is not its diff_id
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]}}).encode()
    manifest = json.dumps([{"Config": "c.json", "Layers": [f"blobs/sha256/{sha(layer)[7:]}"]}]).encode()
    archive = _archive_with(
        tmp_path / "b.tar",
        {f"blobs/sha256/{sha(layer)[7:]}": layer, "c.json": config, "manifest.json": manifest},
    )
    assert_one_line(inspect(str(archive), workdir), "digest mismatch")


@pytest.mark.parametrize(("name", "word"), [("../../etc/evil", "outside"), ("/abs/path", "absolute")])
def test_entries_outside_the_root(name: str, word: str, tmp_path: Path, workdir: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("ok")
        tar.addfile(info)
        info = tarfile.TarInfo(name)
        tar.addfile(info)
    archive = _one_layer_archive(tmp_path / "a.tar", buffer.getvalue())
    assert_one_line(inspect(str(archive), workdir), name, word)


@pytest.mark.slow
def test_hundreds_of_thousands_of_headers(tmp_path: Path, workdir: Path) -> None:
    count = 200_000
    # tarfile's header of an empty file, with only the name (and so the checksum) changed per
    # entry: tobuf() for each took 3 s of this test
    template = tarfile.TarInfo("f").tobuf(tarfile.USTAR_FORMAT)
    rest_sum = sum(template[100:148]) + 8 * 32 + sum(template[156:])  # the checksum counts as spaces
    parts = []
    for number in range(count):
        name = f"d{number // 1000}/f{number}".encode().ljust(100, b"\0")
        checksum = b"%06o\0 " % (sum(name) + rest_sum)
        parts.append(name + template[100:148] + checksum + template[156:])
    parts.append(bytes(1024))
    archive = _one_layer_archive(tmp_path / "many.tar", b"".join(parts))
    started = time.monotonic()
    result = inspect(str(archive), workdir)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
    data = json.loads(result.stdout)
    assert data["size_bytes"] == 0 and data["efficiency"] == 1.0


@pytest.mark.slow
def test_gzip_bomb_is_refused(tmp_path: Path, workdir: Path) -> None:
    """A layer of concatenated gzip members inflating to terabytes: refused, not inflated."""
    header = tarfile.TarInfo("bomb")
    header.size = 1 << 40
    chunk = bytes(1 << 20)
    first = gzip.compress(header.tobuf(tarfile.GNU_FORMAT) + chunk, compresslevel=9)
    rest = gzip.compress(chunk, compresslevel=9)
    layer = first + rest * 4000  # ~4 GiB of zeros from a few MB
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + "2" * 64]}}).encode()
    manifest = json.dumps([{"Config": "c.json", "Layers": [f"blobs/sha256/{sha(layer)[7:]}"]}]).encode()
    archive = _archive_with(
        tmp_path / "bomb.tar",
        {f"blobs/sha256/{sha(layer)[7:]}": layer, "c.json": config, "manifest.json": manifest},
    )
    started = time.monotonic()
    assert_one_line(inspect(str(archive), workdir), "gzip bomb")
    assert time.monotonic() - started < 60


@pytest.mark.engine
def test_image_the_engine_does_not_have(engine: str, workdir: Path) -> None:
    assert_one_line(inspect("docker://boxwise-test-image-absent:nope", workdir), "no such image")
    result = run_boxwise("gate", "boxwise-test-image-absent:nope", cwd=workdir)
    assert result.returncode == 2 and "no such image" in result.stderr


@pytest.mark.engine
def test_an_archive_the_engine_refuses_to_load_is_one_line(docker_client, tmp_path: Path) -> None:
    """`docker load` answering with an error in its stream (here: a layer the archive lacks)."""
    from boxwise.errors import UserError
    from boxwise.image.export import load_into_engine

    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": [sha(b"x")]}}
    ).encode()
    manifest = [
        {"Config": "config.json", "RepoTags": ["boxwise-test-refused:x"], "Layers": ["gone/layer.tar"]}
    ]
    archive = tmp_path / "refused.tar"
    with tarfile.open(archive, "w") as tar:
        _add(tar, "config.json", config)
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    with pytest.raises(UserError) as caught:
        load_into_engine(docker_client, archive)
    message = str(caught.value)
    assert message.startswith("the engine cannot load the image (")
    assert "no such file or directory" in message and "\n" not in message


def test_no_engine_at_all(workdir: Path) -> None:
    result = inspect("docker://anything:latest", workdir, DOCKER_HOST="unix:///nonexistent")
    assert_one_line(result, "no Docker engine", "unix:///nonexistent")


def test_no_such_file(workdir: Path) -> None:
    assert_one_line(inspect("docker-archive:/nonexistent.tar", workdir), "/nonexistent.tar")
    assert_one_line(inspect("oci:/nonexistent-layout", workdir), "/nonexistent-layout")
    # a bare reference that looks like a path is not sent to the engine as an image name
    assert_one_line(inspect("missing-image.tar", workdir, DOCKER_HOST="unix:///nonexistent"), "no such file")


def test_corrupt_cache_entry_is_rebuilt(tmp_path: Path, workdir: Path) -> None:
    archive = settled(docker_archive(tmp_path / "a.tar", SMALL))
    first = inspect(str(archive), workdir)
    assert first.returncode == 0
    cache = IndexCache(tmp_path / "cache" / "boxwise")
    entries = sorted((cache.folder.parent / "file-index").iterdir())  # an archive's: by its place
    assert len(entries) == 2
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:-7] + b"garbage")  # checksum no longer holds
    shutil.rmtree(tmp_path / "cache" / "boxwise" / "analysis")  # else the warm record answers
    second = inspect(str(archive), workdir)
    assert json.loads(second.stdout) == json.loads(first.stdout)
    for entry in entries:  # rebuilt, and valid again
        assert cache.get_placed(entry.name.replace("-", ":", 1)) is not None


def test_no_engine_over_tcp(workdir: Path) -> None:
    """A tcp:// engine goes through the Docker SDK: same one line when nobody answers."""
    result = inspect("docker://anything:latest", workdir, DOCKER_HOST="tcp://127.0.0.1:9")
    assert_one_line(result, "no Docker engine", "tcp://127.0.0.1:9")


def test_oci_layout_blob_that_does_not_match_its_digest(tmp_path: Path, workdir: Path) -> None:
    from .archives import oci_layout

    folder = oci_layout(tmp_path / "layout", SMALL)
    index = json.loads((folder / "index.json").read_text())
    manifest_blob = folder / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]
    manifest = json.loads(manifest_blob.read_text())
    config_blob = folder / "blobs" / "sha256" / manifest["config"]["digest"][7:]
    config_blob.write_bytes(config_blob.read_bytes().replace(b'"os"', b'"OS"'))  # edited in place
    assert_one_line(inspect(f"oci:{folder}", workdir), "digest mismatch")
    (folder / "index.json").unlink()
    assert_one_line(inspect(f"oci:{folder}", workdir), "index.json")
