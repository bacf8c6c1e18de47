"""A big archive's layers read here and by a forked child at once (image._split_read): the same
indexes and RECORD offsets as one process reading them all, whatever the child does."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest
from support.cli import run_boxwise

import boxwise.image as image_module
from boxwise.image import load_indexes, open_image
from boxwise.image.cache import IndexCache

from .archives import _add, _config, docker_archive, layer_tar, settled, sha

SITE = "venv/lib/python3.11/site-packages"


def _layers() -> list[list[tuple]]:
    record = b"x/__init__.py,,3\nx-1.dist-info/RECORD,,\n"
    return [
        [("d", "usr"), *[("f", f"usr/lib/f{n}", n % 700) for n in range(300)]],
        [("f", "etc/passwd", 40)],
        [("d", "venv"), ("f", f"{SITE}/x/__init__.py", 3), ("f", f"{SITE}/x-1.dist-info/RECORD", record)],
        [*[("f", f"usr/lib/f{n}", 5) for n in range(0, 300, 3)], ("w", "etc/passwd")],
        [("f", f"{SITE}/y-2.dist-info/RECORD", b"y.py,,1\n"), ("f", f"{SITE}/y.py", 1)],
    ]


def _read(archive: Path, cache: Path) -> tuple[list[list[tuple]], list[dict[str, int]]]:
    image = open_image(f"docker-archive:{archive}")
    indexes = load_indexes(image, cache=IndexCache(cache))
    return [list(map(tuple, entries)) for entries in indexes], [
        layer.record_offsets for layer in image.layers
    ]


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return settled(docker_archive(tmp_path / "img.tar", _layers()))


@pytest.fixture
def one_process(archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(image_module, "FORK_FROM_BYTES", 1 << 62)
    read = _read(archive, tmp_path / "one")
    monkeypatch.setattr(image_module, "FORK_FROM_BYTES", 0)  # every archive is "big" from here on
    return read


def _note_readers(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    """Every layer read appends `pid digest` to `log`, from whichever process reads it."""
    plain = image_module.layer_index

    def noted(layer, cache=None):
        with open(log, "a") as out:
            out.write(f"{os.getpid()} {layer.digest}\n")
        return plain(layer, cache)

    monkeypatch.setattr(image_module, "layer_index", noted)


def test_the_child_reads_some_layers_and_the_indexes_are_those_of_one_process(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_process
) -> None:
    log = tmp_path / "readers"
    _note_readers(monkeypatch, log)
    assert _read(archive, tmp_path / "split") == one_process
    readers = [line.split() for line in log.read_text().splitlines()]
    assert sorted(digest for _, digest in readers) == sorted(
        layer.digest for layer in open_image(str(archive)).layers
    )
    assert {pid for pid, _ in readers} - {str(os.getpid())}, "no layer was read by a child"
    assert any(one_process[1]), "the archive has RECORD offsets to send back"
    # each layer's index was cached once, by whichever process read it
    assert len(list((tmp_path / "split" / "file-index").iterdir())) == len(_layers())


def test_layers_a_failed_child_had_claimed_are_read_here(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_process
) -> None:
    parent = os.getpid()
    plain = image_module._claimed_columns

    def dies_after_one_claim(layers, store, claims):
        if os.getpid() != parent:
            os.read(claims, 1)  # a layer claimed, then the child is gone
            os._exit(1)
        return plain(layers, store, claims)

    monkeypatch.setattr(image_module, "_claimed_columns", dies_after_one_claim)
    assert _read(archive, tmp_path / "split") == one_process


def test_a_damaged_layer_is_one_line_whoever_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tars = [layer_tar(items) for items in _layers()]
    damaged = bytearray(tars[-1])
    damaged[5] ^= 0x01  # the first header's name: its checksum no longer matches
    tars[-1] = bytes(damaged)
    config = _config([sha(t) for t in tars], None, None)
    path = tmp_path / "damaged.tar"
    with tarfile.open(path, "w") as tar:
        for number, blob in enumerate(tars):
            _add(tar, f"{number}/layer.tar", blob)
        _add(tar, "c.json", config)
        _add(
            tar,
            "manifest.json",
            json.dumps(
                [{"Config": "c.json", "Layers": [f"{n}/layer.tar" for n in range(len(tars))]}]
            ).encode(),
        )
    settled(path)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    results = []
    for threshold in (1 << 62, 0):  # one process, then split with a child
        monkeypatch.setattr(image_module, "FORK_FROM_BYTES", threshold)
        results.append(run_boxwise("inspect", f"docker-archive:{path}", "--format", "json", env=env))
    for result in results:
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "4/layer.tar" in result.stderr and "bad checksum" in result.stderr
    assert results[0].stderr == results[1].stderr
