"""boxwise's numbers against the real dive 0.13.1, to the byte, and exact accounting by hand."""

from __future__ import annotations

import math
import tarfile
from pathlib import Path

import pytest
from support.oracle import DiveRun, run_dive

from boxwise.analyze.efficiency import analyze, dive_accounting
from boxwise.gate import evaluate, load_rules
from boxwise.image import load_indexes, open_image

from .archives import docker_archive, layer_tar, oci_layout, sha

pytestmark = pytest.mark.engine

DIVE_RULES = ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent")


def _percent(ratio: float | str | None) -> str:
    if ratio is None:
        return "NaN"
    if ratio == "+Inf":
        return "+Inf"
    return f"{ratio * 100:2.4f}"


def assert_same_as_dive(ours: dict, dive: DiveRun) -> None:
    image = dive.json["image"]
    assert ours["size_bytes"] == image["sizeBytes"]
    assert ours["efficiency"] == image["efficiencyScore"]
    assert ours["wasted_bytes"] == image["inefficientBytes"]
    mine = [(f["path"], f["count"], f["size_bytes"]) for f in ours["inefficient_files"]]
    theirs = [(f["file"], f["count"], f["sizeBytes"]) for f in image["fileReference"] or []]
    assert mine == theirs  # the same rows in the same order, ties included (Go's unstable sort)
    assert len(ours["layers"]) == len(dive.json["layer"])
    for layer, theirs_layer in zip(ours["layers"], dive.json["layer"], strict=True):
        assert layer["size_bytes"] == theirs_layer["sizeBytes"]
        assert layer["command"] == theirs_layer["command"]
        if layer["command"] != "(missing)":
            assert layer["diff_id"] == theirs_layer["digestId"]
    assert _percent(ours["user_wasted_percent"]) == dive.user_wasted
    verdict = evaluate(ours, load_rules(None, None, {})).to_json()
    statuses = {rule["name"]: rule["status"] for rule in verdict["rules"]}
    assert {name: statuses[name] for name in DIVE_RULES} == dive.rule_status()
    assert (dive.ci_code == 0) == all(statuses[name] != "FAIL" for name in DIVE_RULES)


def inspect(ref: str) -> dict:
    return analyze(open_image(ref)).to_json()


# --- images built in the real engine -------------------------------------------------------------

# exact accounting, by hand: bytes a user could save, and the rows that make them up
EXACT = {
    "overwrite": (10_000, [("/data.bin", 1, 10_000)]),
    "rmfile": (10_000, [("/data.bin", 1, 10_000)]),
    "rmdir": (9_000, [("/d/x6k", 1, 6_000), ("/d/y3k", 1, 3_000)]),
    "onelayer": (0, []),
    "opaque": (9_000, [("/d/x6k", 1, 6_000), ("/d/y3k", 1, 3_000)]),
    "chmod": (20_000, [("/data.bin", 2, 20_000)]),  # the chmod copy-up and the ln copy-up
    "chown": (9_000, [("/d/x6k", 1, 6_000), ("/d/y3k", 1, 3_000)]),
}


@pytest.mark.parametrize(
    "case", ["overwrite", "rmfile", "rmdir", "onelayer", "opaque", "chmod", "chown", "manywhiteouts"]
)
def test_engine_image_matches_dive(case: str, engine_archives: dict[str, Path], engine_dive) -> None:
    ours = inspect(f"docker-archive:{engine_archives[case]}")
    assert_same_as_dive(ours, engine_dive[case])
    if case in EXACT:
        wasted, files = EXACT[case]
        assert ours["exact"]["wasted_bytes"] == wasted
        assert [(f["path"], f["count"], f["size_bytes"]) for f in ours["exact"]["files"]] == files
        size = ours["size_bytes"]
        assert ours["exact"]["efficiency"] == pytest.approx((size - wasted) / size)


def test_known_dive_figures(engine_archives: dict[str, Path]) -> None:
    """The figures the dive spec measured on the same Dockerfiles (a check of the oracle itself)."""
    overwrite = inspect(f"docker-archive:{engine_archives['overwrite']}")
    assert overwrite["wasted_bytes"] == 14_000
    assert overwrite["inefficient_files"] == [{"path": "/data.bin", "count": 2, "size_bytes": 14_000}]
    assert overwrite["layers"][-1]["size_bytes"] == 4_000
    rmdir = inspect(f"docker-archive:{engine_archives['rmdir']}")
    assert rmdir["wasted_bytes"] == 0  # dive never counts a deleted directory
    assert rmdir["exact"]["wasted_bytes"] == 9_000
    onelayer = inspect(f"docker-archive:{engine_archives['onelayer']}")
    assert onelayer["efficiency"] == 1.0 and onelayer["user_wasted_percent"] is None
    many = inspect(f"docker-archive:{engine_archives['manywhiteouts']}")
    assert len(many["inefficient_files"]) == 150
    assert many["exact"]["wasted_bytes"] == sum(len(f"{i}\n") for i in range(1, 151))


@pytest.mark.parametrize("case", ["chmod", "rmdir"])  # rmdir: a 0-byte layer (only a whiteout)
def test_engine_source_matches_archive(
    case: str, engine_archives: dict[str, Path], tmp_path: Path, monkeypatch
) -> None:
    """docker:// reads the same numbers as the saved archive, cold (streamed) and warm (cache)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    archive = inspect(f"docker-archive:{engine_archives[case]}")
    cold = inspect(f"docker://boxwise-test-image-{case}:latest")
    warm = inspect(f"docker://boxwise-test-image-{case}:latest")
    assert list((tmp_path / "cache" / "boxwise" / "layer-index").iterdir())
    for ours in (cold, warm):
        for key in ("size_bytes", "efficiency", "wasted_bytes", "user_wasted_percent", "inefficient_files"):
            assert ours[key] == archive[key]
        assert ours["exact"] == archive["exact"]
        assert [(la["diff_id"], la["command"]) for la in ours["layers"]] == [
            (la["diff_id"], la["command"]) for la in archive["layers"]
        ]


# --- archives written by hand, for what a Dockerfile cannot make ---------------------------------

HANDMADE = {
    # whiteout of a path that never existed: dive stops that layer's walk and leaks a -1
    "ghost": [[("f", "a", 100), ("f", "b", 50)], [("w", "ghost"), ("f", "b", 200)]],
    "wh0": [[("w", "foo"), ("f", "z", 100)], [("f", "z", 100)]],
    "implicitdir": [[("f", "x/f1", 100)], [("w", "x")], [("f", "x", 10)]],
    "explicitdir": [[("d", "x"), ("f", "x/f1", 100)], [("w", "x")], [("f", "x", 10)]],
    "implicit2": [[("d", "x"), ("f", "x/f1", 100)], [("f", "x/f2", 50)], [("w", "x")], [("f", "x", 10)]],
    "nested": [
        [("d", "n"), ("d", "n/m"), ("f", "n/m/deep", 700), ("f", "n/top", 300)],
        [("w", "n")],
        [("f", "n", 5)],
    ],
    "emptydir": [[("d", "e"), ("f", "k", 100)], [("d", "e")]],
    "ties": [[("f", "p", 100), ("f", "q", 100), ("f", "r", 100)]] * 2,
    "links": [[("f", "t", 1000)], [("h", "hl", "t"), ("l", "sl", "t")], [("h", "hl", "t"), ("l", "sl", "t")]],
    "inf": [[("f", "a", 100)], [("w", "a")]],
    "userlayers": [[("f", "base1", 1000)], [("f", "base2", 3000)], [("f", "app", 500), ("f", "base1", 1000)]],
    "opaque": [[("d", "o"), ("f", "o/old", 500)], [("d", "o"), ("o", "o"), ("f", "o/new", 100)]],
    "manyties": [[("f", f"t{n:02d}", 10) for n in range(20)]] * 2,
    # names as `tar -C dir -c .` writes them (the debootstrapped base image has them)
    "dotslash": [[("d", "./x"), ("f", "./x/a", 100), ("f", "./b", 7)], [("f", "./x/a", 50), ("w", "./b")]],
    # hundreds of rows with few distinct sizes: Go's pdqsort (pivots, pattern breaking) orders the ties
    "bigties": [
        [("f", f"d{n % 7}/f{n:03d}", (n * 7) % 5 * 10) for n in range(300)],
        [("f", f"d{n % 7}/f{n:03d}", (n * 3) % 4 * 10) for n in range(0, 300, 2)],
        [("f", f"d{n % 7}/f{n:03d}", 10) for n in range(0, 300, 3)],
    ],
}

HANDMADE_EXACT = {
    "dotslash": 107,
    "ghost": 50,
    "implicitdir": 100,
    "nested": 1000,
    "emptydir": 0,
    "links": 0,
    "inf": 100,
    "opaque": 500,
    "userlayers": 1000,
}


# every case in the legacy layout; the Docker 25+ `blobs/` layout, plain and gzip, on a few
LAYOUT_CASES = [(case, "legacy") for case in sorted(HANDMADE)] + [
    (case, layout)
    for case in ("bigties", "manyties", "nested", "opaque", "ties")
    for layout in ("blobs", "gzip-blobs")
]


@pytest.mark.parametrize(("case", "layout"), LAYOUT_CASES)
def test_handmade_archive_matches_dive(case: str, layout: str, tmp_path: Path, dive_workdir: Path) -> None:
    archive = docker_archive(
        tmp_path / f"{case}.tar", HANDMADE[case], blobs=layout != "legacy", gzip_layers=layout == "gzip-blobs"
    )
    ours = inspect(f"docker-archive:{archive}")
    assert_same_as_dive(ours, run_dive(archive, dive_workdir))
    indexes = load_indexes(open_image(str(archive)))  # both ways of sizing whiteouts agree
    assert dive_accounting(indexes, few_whiteouts=0) == dive_accounting(indexes, few_whiteouts=1000)
    if case in HANDMADE_EXACT:
        assert ours["exact"]["wasted_bytes"] == HANDMADE_EXACT[case]


def test_extracted_archive_folder(tmp_path: Path) -> None:
    """A `docker save` archive unpacked into a folder reads as the archive does."""
    archive = docker_archive(tmp_path / "a.tar", HANDMADE["nested"], blobs=True)
    folder = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
            tar.extractall(folder, filter="data")
        else:  # pragma: no cover - an archive this test wrote itself
            tar.extractall(folder)
    assert inspect(f"docker-archive:{folder}") == {
        **inspect(f"docker-archive:{archive}"),
        "ref": f"docker-archive:{folder}",
    }


def test_no_history_is_missing_commands(tmp_path: Path, dive_workdir: Path) -> None:
    archive = docker_archive(tmp_path / "nohist.tar", HANDMADE["ties"], commands=[])
    ours = inspect(str(archive))
    assert [layer["command"] for layer in ours["layers"]] == ["(missing)", "(missing)"]
    assert ours["resolved_as"] == f"docker-archive:{archive}"
    assert_same_as_dive(ours, run_dive(archive, dive_workdir))


def test_oci_layout_folder_and_gzip(tmp_path: Path) -> None:
    """An OCI layout (not readable by dive) gives the numbers of the same layers as an archive."""
    layers = HANDMADE["nested"]
    folder = oci_layout(tmp_path / "layout", layers)
    archive = docker_archive(tmp_path / "same.tar", layers)
    from_layout, from_archive = inspect(f"oci:{folder}"), inspect(f"docker-archive:{archive}")
    for key in ("size_bytes", "efficiency", "wasted_bytes", "inefficient_files", "exact"):
        assert from_layout[key] == from_archive[key]
    assert from_layout["layers"][0]["media_type"].endswith("+gzip")
    image = open_image(f"oci:{folder}")  # the config as stored: its digest is the one the manifest names
    assert sha(image.config_bytes) == image.manifest["config"]["digest"]
    assert [layer.diff_id for layer in image.layers] == [sha(layer_tar(items)) for items in layers]
    assert inspect(f"oci:{folder}:v1")["size_bytes"] == from_archive["size_bytes"]
    assert inspect(str(folder))["resolved_as"] == f"oci:{folder}"
    assert math.isclose(from_layout["efficiency"], from_archive["efficiency"])
    as_tar = tmp_path / "layout.tar"  # the same layout as one tar file
    with tarfile.open(as_tar, "w") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    from_tar = inspect(f"oci:{as_tar}:v1")
    assert from_tar["exact"] == from_archive["exact"] and from_tar["size_bytes"] == from_archive["size_bytes"]


def test_engine_read_after_archive_read(engine_archives: dict[str, Path]) -> None:
    """Layers and config cached by reading the saved archive serve a docker:// read of the image."""
    from boxwise.image.cache import IndexCache

    archive = inspect(f"docker-archive:{engine_archives['rmdir']}")
    image = open_image(f"docker-archive:{engine_archives['rmdir']}")
    assert IndexCache().get_config(image.manifest["config"]["digest"]) == image.config_bytes
    engine = inspect("docker://boxwise-test-image-rmdir:latest")
    for key in ("size_bytes", "efficiency", "wasted_bytes", "inefficient_files", "exact"):
        assert engine[key] == archive[key]
    assert [la["command"] for la in engine["layers"]] == [la["command"] for la in archive["layers"]]


def test_sdk_and_socket_engines_agree(engine_archives: dict[str, Path]) -> None:
    """The Docker SDK (used for tcp://, TLS, ssh:// engines) and the plain socket client answer alike."""
    from support.engine import socket_engine

    from boxwise.image.engine import SdkEngine

    name = "boxwise-test-image-chmod:latest"
    sdk, plain = SdkEngine(), socket_engine()
    try:
        assert sdk.inspect(name)["RootFS"] == plain.inspect(name)["RootFS"]
        assert sdk.history(name) == plain.history(name)
        saved = b"".join(sdk.save(name))
        assert saved == b"".join(plain.save(name))
        assert len(saved) == engine_archives["chmod"].stat().st_size
    finally:
        sdk.close()
