"""`boxwise diff`: layers by diff_id, size and waste changes, and file changes of the final views."""

from __future__ import annotations

import json

import pytest
from support.cli import run_boxwise
from support.report import load_analysis

from boxwise.analyze.diff import diff_analyses, diff_layers
from boxwise.analyze.efficiency import LayerInfo
from boxwise.image.whiteout import final_view


def test_final_view_applies_whiteouts_and_opaque_folders() -> None:
    layers = [
        [
            ("etc/", 0, True),
            ("etc/a", 10, False),
            ("etc/b", 20, False),
            ("var/x/1", 5, False),
            ("var/x/2", 6, False),
        ],
        [("etc/.wh.a", 0, False), ("var/x/.wh..wh..opq", 0, False), ("var/x/3", 7, False)],
        [("etc/a", 11, False), ("etc/b", 25, False)],
    ]
    assert final_view(layers) == {"/etc/a": 11, "/etc/b": 25, "/var/x/3": 7}


def test_whiteout_of_a_folder_hides_everything_below_it() -> None:
    layers = [
        [("opt/app/x", 1, False), ("opt/app/y/z", 2, False), ("opt/apps", 3, False)],
        [("opt/.wh.app", 0, False)],
    ]
    assert final_view(layers) == {"/opt/apps": 3}


def test_layers_match_by_diff_id_even_when_repeated() -> None:
    def layer(index: int, diff_id: str = "sha256:e", size: int = 32, command: str = "empty") -> LayerInfo:
        return LayerInfo(index, digest="", diff_id=diff_id, size_bytes=size, command=command)

    baseline = [layer(0), layer(1), layer(2, "sha256:old", 9, "")]
    new = [layer(0), layer(1, "sha256:new", 4, "")]
    rows = diff_layers(baseline, new)
    assert [(r.status, r.index) for r in rows] == [
        ("unchanged", 0),
        ("added", 1),
        ("removed", 1),
        ("removed", 2),
    ]


def test_fixed_analyses_diff_has_both_accountings() -> None:
    baseline, new = load_analysis("analysis-baseline.json"), load_analysis("analysis-new.json")
    diff = diff_analyses(baseline, new).to_json()
    assert diff["change"]["size_bytes"] == 3_793_795
    assert diff["change"]["efficiency"] == round(0.9873 - 0.9921, 6)
    assert diff["change"]["wasted_bytes"] == 661_203 - 380_112
    assert diff["change"]["exact_wasted_bytes"] == 622_187 - 318_672
    assert diff["files"] is None  # no file views given


@pytest.mark.engine
def test_diff_of_two_real_images(saved_images, engine) -> None:
    result = run_boxwise(
        "diff",
        f"docker-archive:{saved_images['baseline']}",
        f"docker-archive:{saved_images['new']}",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    statuses = [(layer["status"], layer["index"]) for layer in diff["layers"]]
    # the busybox base is two layers, kept by both images
    assert statuses == [("unchanged", 0), ("unchanged", 1), ("added", 2), ("added", 3), ("removed", 2)]
    assert diff["new"]["layer_count"] == 4 and diff["baseline"]["layer_count"] == 3
    assert diff["change"]["size_bytes"] == diff["new"]["size_bytes"] - diff["baseline"]["size_bytes"]
    assert diff["change"]["size_bytes"] == (5000 + 204_800 + 50_000) - (1000 + 3000)
    # the deleted waste.bin is wasted in both accountings, and gone from the final view
    assert diff["change"]["wasted_bytes"] >= 50_000
    assert diff["change"]["exact_wasted_bytes"] == 50_000
    files = diff["files"]
    assert files["added"] == [{"path": "/data/big.bin", "size_bytes": 204_800}]
    assert files["grown"] == [
        {"path": "/data/app.txt", "size_bytes": 5000, "before_bytes": 1000, "change_bytes": 4000}
    ]
    assert files["removed"] == [{"path": "/data/old.txt", "size_bytes": 3000}]

    text = run_boxwise(
        "diff", f"docker-archive:{saved_images['baseline']}", f"docker-archive:{saved_images['new']}"
    )
    assert text.returncode == 0, text.stderr
    assert "largest added files:\n      205 kB  /data/big.bin" in text.stdout
    assert "unchanged   0" in text.stdout


def test_diff_of_a_missing_image_is_one_line(tmp_path) -> None:
    result = run_boxwise(
        "diff", f"docker-archive:{tmp_path / 'nope.tar'}", f"docker-archive:{tmp_path / 'nope.tar'}"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("boxwise: error: ")
    assert "nope.tar" in result.stderr and "Traceback" not in result.stderr


def test_diff_of_saved_analyses(analyses) -> None:
    result = run_boxwise("diff", str(analyses["baseline"]), str(analyses["new"]))
    assert result.returncode == 0, result.stderr
    assert "size               48.3 MB -> 52.1 MB  (+3.79 MB)" in result.stdout
    assert "files: not compared (no per-layer file index for one of the images)" in result.stdout
