"""Warm analysis: a second `boxwise inspect` of an image is answered from one record keyed by its
config digest (and, for an archive, by the archive file itself), without reading a layer; a
damaged or foreign record is never used."""

from __future__ import annotations

import hashlib
import json
import marshal
import shutil
import tarfile
from pathlib import Path

import pytest
from support.cli import run_boxwise

from .archives import docker_archive, settled

RECORD = b"pkg/__init__.py,,\npkg-1.0.dist-info/RECORD,,\n"
LAYERS = [
    [("d", "bin"), ("f", "bin/busybox", 5_000)],
    # the big layer the warm run must not read: 300 files, one of them overwritten above
    [("d", "data"), *[("f", f"data/f{n:03d}.bin", 4_000 + n) for n in range(300)]],
    [
        ("d", "data"),
        ("f", "data/f007.bin", 100),
        ("d", "usr/lib/python3/site-packages/pkg"),
        ("f", "usr/lib/python3/site-packages/pkg/__init__.py", 2_000),
        ("f", "usr/lib/python3/site-packages/pkg-1.0.dist-info/RECORD", RECORD),
    ],
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image as an archive the tests only read: written and left to settle once (a second's
    wait, see settled), each test reading it with its own cache."""
    return settled(docker_archive(tmp_path_factory.mktemp("warm") / "image.tar", LAYERS))


def _inspect(archive: Path, cache: Path | None = None) -> tuple[int, str, str]:
    env = {"XDG_CACHE_HOME": str(cache)} if cache else None
    done = run_boxwise("inspect", "--format", "json", f"docker-archive:{archive}", env=env)
    return done.returncode, done.stdout, done.stderr


def _zero_member(archive: Path, name: str) -> None:
    """Overwrite one member's bytes in place with zeros: same size, the tar still lists it."""
    with tarfile.open(archive) as tar:
        member = tar.getmember(name)
    with archive.open("r+b") as handle:
        handle.seek(member.offset_data)
        handle.write(b"\0" * member.size)


def _record_file(cache: Path) -> Path:
    (record,) = (cache / "boxwise" / "analysis").iterdir()
    return record


def test_second_inspect_reads_no_layer(
    archive: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from boxwise.analyze.analysiscache import place_key
    from boxwise.cli import main
    from boxwise.image import open_image

    code, cold, err = _inspect(archive)
    assert code == 0, err
    analysis = json.loads(cold)
    assert analysis["wasted_bytes"] > 0 and analysis["dependencies"]["distributions"][0]["name"] == "pkg"
    record = _record_file(own_cache)
    # an archive's layers are not hashed: its record is kept for this very file, not its config alone
    assert record.name == str(place_key(open_image(f"docker-archive:{archive}"))).replace(":", "-")

    shutil.rmtree(own_cache / "boxwise" / "file-index")  # the layers' own indexes are gone too
    assert not (own_cache / "boxwise" / "layer-index").exists()  # never under the diff_ids it names

    def no_layer_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("the warm run read a layer's headers")

    monkeypatch.setattr("boxwise.image.tarindex.read_index", no_layer_read)
    assert main(["inspect", "--format", "json", f"docker-archive:{archive}"]) == 0
    # byte for byte, the dependency table (its RECORD read in place from layer 2) included
    assert capsys.readouterr().out == cold


def test_an_archives_dependency_table_is_kept_under_its_place_key_only(
    archive: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from boxwise.analyze.analysiscache import FORMAT, _decode
    from boxwise.cli import main
    from boxwise.image.cache import checked_body, signed

    code, cold, err = _inspect(archive)
    assert code == 0, err

    def no_record_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("the warm run read a RECORD file")

    # the record kept for this very file holds the table: a warm run reads no RECORD again
    monkeypatch.setattr("boxwise.analyze.layerfiles.read_files", no_record_read)
    assert main(["inspect", "--format", "json", f"docker-archive:{archive}"]) == 0
    assert capsys.readouterr().out == cold
    # the same body under a bare config digest (an engine's or a registry's image) gives no table:
    # RECORDs read without hashing their layer must not answer for every place with that config
    record = _record_file(own_cache)
    header = json.loads(record.read_bytes().partition(b"\n")[0])
    body = checked_body(record.read_bytes(), FORMAT, "place", header["place"])
    assert body is not None
    key = "sha256:" + "0" * 64
    found = _decode(signed(FORMAT, "config", key, body), key=key, key_name="config", layers=len(LAYERS))
    assert found is not None and found.table is None
    placed = _decode(record.read_bytes(), key=header["place"], key_name="place", layers=len(LAYERS))
    assert placed is not None and placed.table is not None
    assert placed.table.distributions[0].name == "pkg"


def test_a_changed_archive_is_never_answered_from_its_old_record(tmp_path: Path, own_cache: Path) -> None:
    archive = settled(docker_archive(tmp_path / "image.tar", LAYERS))
    code, _, err = _inspect(archive)
    assert code == 0, err
    _zero_member(archive, f"{1:064x}/layer.tar")  # the big layer's bytes are gone, same size
    code, _, err = _inspect(archive)
    assert code == 2 and "layer.tar" in err and "Traceback" not in err


def _decoded(record: Path | bytes) -> tuple[object, object]:
    """A record's header and body as values (marshal's bytes depend on how objects are shared)."""
    header, _, body = (record if isinstance(record, bytes) else record.read_bytes()).partition(b"\n")
    meta = json.loads(header)
    return {k: v for k, v in meta.items() if k != "sha256"}, marshal.loads(body)


def _config_bytes(archive: Path) -> bytes:
    with tarfile.open(archive) as tar:
        (name,) = [m.name for m in tar.getmembers() if m.name.endswith(".json") and m.name != "manifest.json"]
        return tar.extractfile(name).read()


def _forged(record: Path, *, fmt: str | None = None, checksum: bool) -> bytes:
    """The record with its wasted bytes changed; its header re-signed (or not) and its format set."""
    header, _, body = record.read_bytes().partition(b"\n")
    meta = json.loads(header)
    sizes, largest, dive, *rest = marshal.loads(body)
    dive = (dive[0], 123_456_789, dive[2], dive[3])
    forged = marshal.dumps((sizes, largest, dive, *rest))
    if checksum:
        meta["sha256"] = hashlib.sha256(forged).hexdigest()
    if fmt is not None:
        meta["format"] = fmt
    return json.dumps(meta).encode() + b"\n" + forged


def test_corrupt_or_outdated_record_is_discarded_and_rebuilt(archive: Path, own_cache: Path) -> None:
    code, cold, err = _inspect(archive)
    assert code == 0, err
    record = _record_file(own_cache)
    good = record.read_bytes()
    for damaged in (
        _forged(record, checksum=False),  # body changed under its checksum
        _forged(record, checksum=True, fmt="boxwise-analysis/0"),  # an older format
        good[: len(good) // 2],  # cut short
        b"not a record",
    ):
        record.write_bytes(damaged)
        code, again, err = _inspect(archive)
        assert code == 0, err
        assert again == cold and json.loads(again)["wasted_bytes"] != 123_456_789
        assert _decoded(record) == _decoded(good)  # rebuilt from the layers


def test_record_under_another_config_digest_is_never_used(
    archive: Path, tmp_path: Path, own_cache: Path
) -> None:
    first = archive
    # the same layers under another config (other commands): only the config digest tells them apart
    second = docker_archive(tmp_path / "second.tar", LAYERS, commands=["a", "b", "c"])
    code, _, err = _inspect(first)
    assert code == 0, err
    record = _record_file(own_cache)
    # the first image's record (figures changed, checksum right) where the second's would be
    foreign = record.parent / ("sha256-" + hashlib.sha256(_config_bytes(second)).hexdigest())
    foreign.write_bytes(_forged(record, checksum=True))
    code, second_json, err = _inspect(second)
    assert code == 0, err
    code, expected, err = _inspect(second, tmp_path / "fresh-cache")
    assert code == 0, err
    assert second_json == expected and json.loads(second_json)["wasted_bytes"] != 123_456_789
    assert not foreign.exists()  # never trusted: removed
