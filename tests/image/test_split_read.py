"""A big archive's layers read here and by a forked child at once (image._split_read): the same
indexes and RECORD offsets as one process reading them all, whatever the child does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from .archives import _add, _config, docker_archive, layer_tar, settled, sha

SITE = "venv/lib/python3.11/site-packages"
SRC = Path(__file__).resolve().parents[2] / "src"


def _layers() -> list[list[tuple]]:
    record = b"x/__init__.py,,3\nx-1.dist-info/RECORD,,\n"
    return [
        [("d", "usr"), *[("f", f"usr/lib/f{n}", n % 700) for n in range(300)]],
        [("f", "etc/passwd", 40)],
        [("d", "venv"), ("f", f"{SITE}/x/__init__.py", 3), ("f", f"{SITE}/x-1.dist-info/RECORD", record)],
        [*[("f", f"usr/lib/f{n}", 5) for n in range(0, 300, 3)], ("w", "etc/passwd")],
        [("f", f"{SITE}/y-2.dist-info/RECORD", b"y.py,,1\n"), ("f", f"{SITE}/y.py", 1)],
    ]


# Run in a new interpreter: forks happen only with no other thread running, and the test session
# has threads of its own (fake servers). argv: archive, cache folder, mode, log file.
READER = """
import json, os, sys, time
from pathlib import Path
import boxwise.image as image_module
from boxwise.image import load_indexes, open_image
from boxwise.image.cache import IndexCache
archive, cache, mode, log = sys.argv[1:]
image_module.FORK_FROM_BYTES = 1 << 62 if mode == "one" else 0
plain_index, plain_claimed, parent = image_module.layer_index, image_module._claimed_columns, os.getpid()
waited = []
def child_has_read():
    if not os.path.exists(log):
        return False
    with open(log) as lines:
        return any(line.split()[0] != str(parent) for line in lines)
def noted(layer, cache=None):
    if mode != "one" and os.getpid() == parent and not waited:
        # tiny layers: this process could take them all before the child has started, so its
        # first read waits (10 s at most) for the child to have claimed one
        waited.append(True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not child_has_read():
            time.sleep(0.01)
    with open(log, "a") as out:
        out.write(f"{os.getpid()} {layer.digest}\\n")
    return plain_index(layer, cache)
def dies_after_one_claim(layers, store, claims):
    if os.getpid() != parent:
        os.read(claims, 1)  # a layer claimed, then the child is gone
        with open(log, "a") as out:
            out.write(f"{os.getpid()} claimed\\n")
        os._exit(1)
    return plain_claimed(layers, store, claims)
image_module.layer_index = noted
if mode == "split-dies":
    image_module._claimed_columns = dies_after_one_claim
if mode.startswith("cli-measured"):
    # measure's child too, as a big image has it (it writes the indexes this process read)
    import boxwise.analyze.efficiency as efficiency
    efficiency.FORK_FROM_ENTRIES = 0
    plain_dive = efficiency._dive_plain
    def dive_dies(indexes, aside=None):
        if os.getpid() != parent:
            os._exit(1)
        return plain_dive(indexes, aside)
    if mode == "cli-measured-dies":
        efficiency._dive_plain = dive_dies
if mode.startswith("cli"):
    from boxwise.cli import main
    sys.exit(main(["inspect", f"docker-archive:{archive}", "--format", "json"]))
image = open_image(f"docker-archive:{archive}")
indexes = load_indexes(image, cache=IndexCache(Path(cache)))
offsets = [layer.record_offsets for layer in image.layers]
print(json.dumps({"indexes": indexes, "offsets": offsets, "parent": parent}))
"""


def _reader(archive: Path, tmp: Path, mode: str, log: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", READER, str(archive), str(tmp / f"cache-{mode}"), mode, str(log)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC), "XDG_CACHE_HOME": str(tmp / f"xdg-{mode}")},
        timeout=60,
    )


def _read(archive: Path, tmp: Path, mode: str) -> tuple[dict, list[tuple[int, str]]]:
    """(what a reader in `mode` gave: indexes, offsets, its pid; which process read each layer)."""
    log = tmp / f"readers-{mode}"
    done = _reader(archive, tmp, mode, log)
    assert done.returncode == 0, done.stderr
    readers = [(int(pid), digest) for pid, digest in (line.split() for line in log.read_text().splitlines())]
    return json.loads(done.stdout), readers


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read, never written, by the tests: written and left to settle once (a second's wait)."""
    return settled(docker_archive(tmp_path_factory.mktemp("split-read") / "img.tar", _layers()))


def test_the_child_reads_some_layers_and_the_indexes_are_those_of_one_process(
    archive: Path, tmp_path: Path
) -> None:
    one, one_readers = _read(archive, tmp_path, "one")
    split, readers = _read(archive, tmp_path, "split")
    assert (split["indexes"], split["offsets"]) == (one["indexes"], one["offsets"])
    assert any(one["offsets"]), "the archive has RECORD offsets to send back"
    assert {pid for pid, _ in one_readers} == {one["parent"]}
    assert sorted(digest for _, digest in readers) == sorted(digest for _, digest in one_readers)
    assert {pid for pid, _ in readers} - {split["parent"]}, "no layer was read by a child"
    # each layer's index was cached once, by whichever process read it
    assert len(list((tmp_path / "cache-split" / "file-index").iterdir())) == len(_layers())


def test_layers_a_failed_child_had_claimed_are_read_here(archive: Path, tmp_path: Path) -> None:
    one, in_order = _read(archive, tmp_path, "one")
    split, noted = _read(archive, tmp_path, "split-dies")
    assert (split["indexes"], split["offsets"]) == (one["indexes"], one["offsets"])
    claims = [pid for pid, digest in noted if digest == "claimed"]
    assert len(claims) == 1 and claims[0] != split["parent"]  # the child claimed one, then died
    readers = [(pid, digest) for pid, digest in noted if digest != "claimed"]
    assert {pid for pid, _ in readers} == {split["parent"]}
    assert sorted(digest for _, digest in readers) == sorted(digest for _, digest in in_order)
    # the layer the child claimed was read here last, out of order
    assert [digest for _, digest in readers] != [digest for _, digest in in_order]


def test_a_damaged_layer_is_one_line_whoever_reads_it(tmp_path: Path) -> None:
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
        names = [f"{n}/layer.tar" for n in range(len(tars))]
        _add(tar, "manifest.json", json.dumps([{"Config": "c.json", "Layers": names}]).encode())
    settled(path)
    results = []
    for mode in ("cli-one", "cli-split"):
        done = _reader(path, tmp_path, mode, tmp_path / mode)
        results.append(done)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "4/layer.tar" in done.stderr and "bad checksum" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert results[0].stderr == results[1].stderr
    readers = {line.split()[0] for line in (tmp_path / "cli-split").read_text().splitlines()}
    assert len(readers) == 2, "the split run read layers in two processes"


def test_a_cold_inspect_caches_every_layer_index_whichever_process_writes_it(
    archive: Path, tmp_path: Path
) -> None:
    # the indexes this process read are written by measure's child, or here when it dies
    outputs = []
    for mode in ("cli-one", "cli-measured", "cli-measured-dies"):
        done = _reader(archive, tmp_path, mode, tmp_path / mode)
        assert done.returncode == 0, done.stderr
        outputs.append(json.loads(done.stdout))
        cached = list((tmp_path / f"xdg-{mode}" / "boxwise" / "file-index").iterdir())
        assert len(cached) == len(_layers()), mode
    assert outputs[0] == outputs[1] == outputs[2]
    # and a later read of those layers takes them from there: none is read from its tar again
    again = subprocess.run(
        [sys.executable, "-c", READ_AGAIN, str(archive)], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(SRC), "XDG_CACHE_HOME": str(tmp_path / "xdg-cli-measured")},
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == ["0", str(len(_layers()))]


READ_AGAIN = """
import sys
import boxwise.image as image_module
from boxwise.image import load_indexes, open_image
read, plain = [], image_module._read_layer
image_module._read_layer = lambda layer, place: read.append(layer) or plain(layer, place)
indexes = load_indexes(open_image(f"docker-archive:{sys.argv[1]}"))
print(len(read), len(indexes))
"""
