"""The layer cache's record of an app (layers.json) as the builder reads and writes it: a record an
earlier boxwise wrote reads back and is written again byte for byte, earlier keys stay as
alternates, and a record boxwise did not write this way is refused whole with the field named
(the build then says so in one line and starts as from an empty cache)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from boxwise.builder import fastpath
from boxwise.builder.cache import ALTERNATES, LayerCache
from boxwise.builder.cache_record import RECORD_VERSION, AppLayers, AppRecord, CachedLayer, FastRecord
from boxwise.jsonread import JsonReader

BP = "boxwise/pip-install"


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def entry(n: int, key: str, **extra: object) -> dict[str, object]:
    return {"sha": digest(n), "data": {"key": key}, "launch": True, "build": False, "cache": True, **extra}


def _group() -> list[dict[str, object]]:
    layer = {
        "has_dir": True,
        "launch_env": [["PYTHONPATH", "prepend", "/layers/boxwise_pip-install/packages/lib", ":"]],
        "metadata": {"key": "k2"},
        "types": {"build": False, "cache": True, "launch": True},
    }
    return [
        {
            "api": "0.10",
            "dir_name": "boxwise_pip-install",
            "id": BP,
            "labels": [],
            "layers": {"packages": layer},
            "processes": [{"command": ["python3", "main.py"], "default": True, "type": "web"}],
            "version": "0.1.0",
        }
    ]


def _written_before() -> dict[str, object]:
    """A layers.json as boxwise wrote it before the record had types (every key it ever wrote)."""
    launch = {
        "bp": BP,
        "name": "packages",
        "diff_id": digest(2),
        "types": {"build": False, "cache": True, "launch": True},
        "data": {"key": "k2"},
        "size": 10,
    }
    record = {
        "version": RECORD_VERSION,
        "driver": "0123456789abcdef",
        "build_image": digest(9),
        "base_image": digest(9),
        "python": "3.11.2",
        "detected": [BP, "boxwise/procfile-run"],
        "outcomes": {BP: {"packages": "k2", "processes": []}},
        "group": _group(),
        "launch": [launch],
    }
    pip_cache = {"sha": digest(3), "data": {"key": "g1"}, "launch": False, "build": False, "cache": True}
    return {
        "alternates": {BP: {"packages": [entry(1, "k1", scanned=True)]}},
        "app": {"built": digest(5), "sha": digest(4)},
        "app_steps": [],
        "buildpacks": {BP: {"packages": entry(2, "k2", scanned=True), "pip-cache": pip_cache}},
        "engine_image": digest(6),
        "fast": record,
    }


def _cache(tmp_path: Path, document: object) -> LayerCache:
    cache = LayerCache(tmp_path / "cache", "app-0123")
    cache.metadata_path.parent.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str | bytes) else json.dumps(document, indent=1, sort_keys=True)
    if isinstance(text, str):
        text = text.encode()
    cache.metadata_path.write_bytes(text)
    return cache


def test_a_record_an_earlier_boxwise_wrote_reads_back_and_is_written_the_same(tmp_path: Path) -> None:
    cache = _cache(tmp_path, _written_before())
    before = cache.metadata_path.read_bytes()
    record = cache.load()
    assert record is not None
    packages = record.latest(BP, "packages")
    assert packages == CachedLayer(digest(2), {"key": "k2"}, True, False, True, scanned=True)
    assert record.latest(BP, "pip-cache") is not None and record.latest(BP, "pip-cache").cache_only
    assert [e.key for e in record.alternates_of(BP, "packages")] == ["k1"]
    assert record.app == AppRecord(digest(4), digest(5))
    assert record.app_steps == () and record.engine_image == digest(6)
    assert record.fast is not None and record.fast.python == "3.11.2"
    assert record.fast.launch[0].diff_id == digest(2) and record.fast.group[0].id == BP
    cache._write(record)
    assert cache.metadata_path.read_bytes() == before  # older and newer boxwise read each other's


def test_a_record_seeded_from_an_image_says_nothing_of_app_writes(tmp_path: Path) -> None:
    """Keys older builds did not write are optional; an unknown step list means 'may write'."""
    from boxwise.builder.appwrites import writes_app

    record = _cache(tmp_path, {"buildpacks": {BP: {"packages": entry(2, "k2")}}, "app": {}}).load()
    assert record is not None and record.app_steps is None and writes_app(record)
    assert record.app == AppRecord() and record.alternates == {} and record.fast is None
    assert not writes_app(AppLayers(app_steps=()))
    assert writes_app(AppLayers(app_steps=("collectstatic",)))


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ("{not json", "is not what boxwise writes (Expecting property name"),
        (b'{"buildpacks": "\xff"}', "is not what boxwise writes ('utf-8' codec"),
        ([1, 2], "is not what boxwise writes (the document is not an object)"),
        ({"buildpacks": {BP: 5}}, f"'buildpacks.{BP}' is not an object"),
        ({"buildpacks": {BP: {"packages": entry(2, "k", launch="yes")}}}, ".packages.launch' is not true or"),
        (
            {"buildpacks": {BP: {"packages": {**entry(2, "k"), "sha": "sha256:../../x"}}}},
            "not a sha256 digest",
        ),
        ({"buildpacks": {BP: {"packages": {**entry(2, "k"), "data": None}}}}, ".packages.data' is not an"),
        ({"alternates": {BP: {"packages": ["old"]}}}, f"'alternates.{BP}.packages[0]' is not an object"),
        ({"app": {"sha": 5}}, "'app.sha' is not a string"),
        ({"app_steps": "collectstatic"}, "'app_steps' is not a list"),
        ({"fast": []}, "'fast' is not an object"),
    ],
)
def test_a_record_boxwise_did_not_write_is_refused_whole_naming_the_field(
    tmp_path: Path, document: object, why: str
) -> None:
    cache = _cache(tmp_path, document)
    record, unusable = cache.read()
    assert record is None and cache.load() is None
    assert why in unusable


def test_a_damaged_fast_path_record_refuses_the_record_and_another_version_only_itself(
    tmp_path: Path,
) -> None:
    damaged = _written_before()
    damaged["fast"]["launch"][0]["size"] = "10"  # type: ignore[index]
    assert _cache(tmp_path, damaged).read() == (
        None,
        "is not what boxwise writes ('fast.launch[0].size' is not an integer)",
    )
    other = _written_before()
    other["fast"] = {"version": RECORD_VERSION + 1, "anything": "else"}
    record = _cache(tmp_path, other).load()
    assert record is not None and record.fast is None and record.latest(BP, "packages") is not None
    why = fastpath.fast_build(None, tmp_path, record, digest(9), digest(9), {}, lambda *_: True)  # type: ignore[arg-type]
    assert why == "no record of a full build to start from"


def test_a_record_over_the_size_bound_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from boxwise.builder import cache as cache_module

    monkeypatch.setattr(cache_module, "MAX_RECORD_BYTES", 100)
    assert _cache(tmp_path, _written_before()).read() == (None, "is over 0 MiB")


def _layer(n: int, key: str) -> CachedLayer:
    return CachedLayer(digest(n), {"key": key, "inputs": {"requirements.txt": key}}, True, False, True)


def test_earlier_keys_stay_as_alternates_most_recent_first(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path / "cache", "app-0123")
    for n in range(1, 6):
        cache.save(AppLayers({BP: {"packages": _layer(n, f"k{n}")}}, AppRecord(digest(100))))
    record = cache.load()
    assert record is not None
    assert [e.key for e in record.alternates_of(BP, "packages")] == ["k4", "k3", "k2"]
    assert len(record.alternates_of(BP, "packages")) == ALTERNATES - 1
    cache.save(AppLayers({BP: {"packages": _layer(3, "k3")}}))  # back to k3: it leaves the alternates
    record = cache.load()
    assert record is not None and record.latest(BP, "packages") == _layer(3, "k3")
    assert [e.key for e in record.alternates_of(BP, "packages")] == ["k5", "k4", "k2"]


def test_a_previous_images_layers_join_as_alternates_for_their_keys_only(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path / "cache", "app-0123")
    cache.save(AppLayers({BP: {"packages": _layer(1, "k1")}}))
    cache.add_alternates({BP: {"packages": _layer(2, "k2"), "other": _layer(3, "")}})
    cache.add_alternates({BP: {"packages": _layer(4, "k1")}})  # the key the cache holds: nothing new
    record = cache.load()
    assert record is not None and record.latest(BP, "packages") == _layer(1, "k1")
    assert record.alternates_of(BP, "packages") == (_layer(2, "k2"),)
    assert record.alternates_of(BP, "other") == ()


def test_garbage_collection_keeps_what_a_usable_record_names(tmp_path: Path) -> None:
    good = _cache(tmp_path, _written_before())
    damaged = LayerCache(good.root, "other-4567")
    damaged.metadata_path.parent.mkdir(parents=True)
    damaged.metadata_path.write_text(
        json.dumps({"buildpacks": {BP: {"packages": entry(7, "k", launch="yes")}}})
    )
    good.blobs.mkdir(parents=True)
    old = time.time() - 2 * 86400
    for n in range(1, 8):
        blob = good.blob_path(digest(n))
        blob.write_bytes(b"layer")
        os.utime(blob, (old, old))
    assert good.collect_garbage() == 2  # 6 (the engine's image, not a blob) and 7 (a damaged record's)
    assert sorted(p.name for p in good.blobs.iterdir()) == [f"{digest(n)[7:]}.tar" for n in range(1, 6)]


def test_a_cache_images_fast_path_record_is_read_checked_and_never_trusted_blindly() -> None:
    """The record a cache image carries (its io.boxwise.fast-path label) lets a runner with an
    empty disk take the fast path; a label that is not what boxwise writes is one line, ignored."""
    from boxwise.builder.cacheimage import FAST_LABEL, _fast_label, _fast_record
    from boxwise.builder.log import BuildLog

    record = FastRecord.from_json(JsonReader(_written_before()["fast"]))
    config = {"config": {"Labels": _fast_label(record)}}
    log = BuildLog(quiet=True)
    assert _fast_record(config, "registry://r/app:boxwise-cache", log) == record and not log.lines

    for label, said in (
        (json.dumps({**_written_before()["fast"], "driver": 5}), "'io.boxwise.fast-path.driver'"),
        ("[1, 2", "not usable"),  # not JSON
        ('{"version": "other"}', None),  # another boxwise's record: silently not used
    ):
        log = BuildLog(quiet=True)
        assert _fast_record({"config": {"Labels": {FAST_LABEL: label}}}, "registry://r/a:c", log) is None
        assert (said is None and not log.lines) or (said in log.lines[0] and "ignored" in log.lines[0])
