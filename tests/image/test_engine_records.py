"""A cold `docker://` read from the local engine's own records (layerdb), not `docker save`:
the same analysis as the image's saved archive (which test_oracle checks against dive), and a
fall back to `docker save` whenever a record is missing or does not match."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from support.engine import socket_engine
from support.oracle import ENGINE_CASES, PREFIX

from boxwise.analyze.efficiency import analyze
from boxwise.image import Image, load_indexes, open_image
from boxwise.image.cache import IndexCache
from boxwise.image.layerdb import chain_ids, read_from_records

pytestmark = pytest.mark.engine

# what names the place an image was read from, not a figure; docker:// never knows blob sizes
PLACE_KEYS = ("ref", "source", "resolved_as")


def _figures(report: dict) -> dict:
    figures = {key: value for key, value in report.items() if key not in PLACE_KEYS}
    figures["layers"] = [{k: v for k, v in la.items() if k != "blob_size_bytes"} for la in report["layers"]]
    return figures


def _layer_store() -> Path:
    info = socket_engine().info()
    return Path(info["DockerRootDir"]) / "image" / info["Driver"]


@pytest.mark.parametrize("case", sorted(ENGINE_CASES))
def test_cold_engine_read_matches_saved_archive(
    case: str, engine_archives: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "engine-cache"))
    image = open_image(f"docker://{PREFIX}-{case}:latest")
    # read from the records (a streamed save would name each layer by its member in the save)
    assert [layer.location for layer in image.layers] == [layer.diff_id for layer in image.layers]
    from_engine = analyze(image).to_json()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "archive-cache"))
    saved = open_image(f"docker-archive:{engine_archives[case]}")
    assert image.config_bytes == saved.config_bytes
    assert [layer.entries for layer in image.layers] == load_indexes(saved)  # every tar header
    assert _figures(from_engine) == _figures(analyze(saved).to_json())


def _copy_records(name: str, to: Path) -> tuple[dict, Path]:
    """The records of one image, copied from the engine's folder into `to` (same layout)."""
    inspect = socket_engine().inspect(name)
    source = _layer_store()
    config = Path("imagedb/content/sha256") / inspect["Id"].removeprefix("sha256:")
    (to / config).parent.mkdir(parents=True)
    shutil.copy2(source / config, to / config)
    for chain_id in chain_ids(inspect["RootFS"]["Layers"]):
        record = Path("layerdb/sha256") / chain_id.removeprefix("sha256:")
        (to / record).mkdir(parents=True)
        for part in ("diff", "tar-split.json.gz"):
            shutil.copy2(source / record / part, to / record / part)
    return inspect, to


def _read(inspect: dict, store: Path, cache: Path) -> Image | None:
    return read_from_records("docker://x", inspect, store, IndexCache(cache))


def _bad_checksum(split: bytes) -> bytes:
    """The tar-split record with its first tar header's checksum field zeroed (still valid gzip+JSON)."""
    lines = gzip.decompress(split).splitlines()
    for number, line in enumerate(lines):
        record = json.loads(line)
        payload = base64.b64decode(record.get("payload") or "")
        if record.get("type") == 2 and len(payload) >= 512:
            record["payload"] = base64.b64encode(payload[:148] + b"0000000\0" + payload[156:]).decode()
            lines[number] = json.dumps(record).encode()
            return gzip.compress(b"\n".join(lines) + b"\n")
    raise AssertionError("no tar header in the record")


def test_records_not_as_expected_fall_back(engine_archives: dict[str, Path], tmp_path: Path) -> None:
    """A changed config, a record of another layer, a damaged or missing tar-split: no image from
    the records (the caller then streams `docker save`), and no config cached from them."""
    name = f"{PREFIX}-chmod:latest"
    inspect, store = _copy_records(name, tmp_path / "store")
    good = _read(inspect, store, tmp_path / "c0")
    assert (
        good is not None
        and good.config_bytes == open_image(f"docker-archive:{engine_archives['chmod']}").config_bytes
    )
    top = store / "layerdb/sha256" / chain_ids(inspect["RootFS"]["Layers"])[-1].removeprefix("sha256:")

    config = store / "imagedb/content/sha256" / inspect["Id"].removeprefix("sha256:")
    original = config.read_bytes()
    config.write_bytes(original.replace(b'"architecture"', b'"Architecture"'))
    assert _read(inspect, store, tmp_path / "c1") is None
    config.write_bytes(original)

    diff = (top / "diff").read_text()
    (top / "diff").write_text("sha256:" + hashlib.sha256(b"another layer").hexdigest())
    assert _read(inspect, store, tmp_path / "c2") is None
    (top / "diff").write_text(diff)

    split = (top / "tar-split.json.gz").read_bytes()
    (top / "tar-split.json.gz").write_bytes(split[: len(split) // 2])
    assert _read(inspect, store, tmp_path / "c3") is None
    assert not IndexCache(tmp_path / "c3").get_config(inspect["Id"])
    (top / "tar-split.json.gz").write_bytes(_bad_checksum(split))  # whole gzip, a damaged tar inside
    assert _read(inspect, store, tmp_path / "c3b") is None
    (top / "tar-split.json.gz").unlink()
    assert _read(inspect, store, tmp_path / "c4") is None
    assert _read(inspect, tmp_path / "no-such-folder", tmp_path / "c5") is None
    (top / "tar-split.json.gz").write_bytes(split)
    again = _read(inspect, store, tmp_path / "c6")
    assert again is not None and [la.entries for la in again.layers] == [la.entries for la in good.layers]


def test_records_serve_a_later_warm_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cold read from the records fills the cache: the next read needs only `docker inspect`."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    name = f"docker://{PREFIX}-manywhiteouts:latest"
    cold = analyze(open_image(name)).to_json()
    inspect = socket_engine().inspect(name.removeprefix("docker://"))
    cache = IndexCache()
    assert cache.get_config(inspect["Id"]) is not None
    assert all(cache.has(diff_id) for diff_id in inspect["RootFS"]["Layers"])
    assert analyze(open_image(name)).to_json() == cold
