"""`boxwise inspect`: the documented JSON schema and the text a user reads."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import run_boxwise

from .archives import docker_archive, layer_tar, sha

LAYERS = [
    [("d", "bin"), ("f", "bin/busybox", 5_000)],
    [("d", "app"), ("f", "app/big.bin", 3_000), ("f", "app/small.txt", 20), ("l", "app/link", "big.bin")],
    [("d", "app"), ("f", "app/big.bin", 1_000)],
]

TOP_KEYS = {
    "schema",
    "ref",
    "name",
    "source",
    "resolved_as",
    "size_bytes",
    "user_size_bytes",
    "efficiency",
    "wasted_bytes",
    "user_wasted_percent",
    "inefficient_files",
    "exact",
    "layers",
    "dependencies",
}
LAYER_KEYS = {
    "index",
    "digest",
    "diff_id",
    "size_bytes",
    "command",
    "created_by",
    "media_type",
    "blob_size_bytes",
    "buildpack",
    "layer_name",
    "largest_files",
}


def _labels() -> dict[str, str]:
    ids = [sha(layer_tar(items)) for items in LAYERS]
    metadata = {
        "buildpacks": [{"key": "boxwise/pip-install", "layers": {"deps": {"sha": ids[1]}}}],
        "app": [{"sha": ids[2]}],
    }
    return {"io.buildpacks.lifecycle.metadata": json.dumps(metadata)}


def test_json_schema(tmp_path: Path) -> None:
    archive = docker_archive(
        tmp_path / "img.tar",
        LAYERS,
        commands=["/bin/sh -c #(nop) ADD base", "/bin/sh -c pip install", "COPY app /app # buildkit"],
        labels=_labels(),
    )
    result = run_boxwise("inspect", f"docker-archive:{archive}", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == TOP_KEYS
    assert data["schema"] == "boxwise.inspect/1" and data["name"] == "handmade:latest"
    assert data["size_bytes"] == 9_020 and data["user_size_bytes"] == 4_020
    assert data["wasted_bytes"] == 4_000 and data["exact"]["wasted_bytes"] == 3_000
    assert data["efficiency"] == (5_000 + 20 + 1_000) / (5_000 + 20 + 4_000)
    assert data["user_wasted_percent"] == 4_000 / 4_020
    assert data["inefficient_files"] == [{"path": "/app/big.bin", "count": 2, "size_bytes": 4_000}]
    assert data["exact"]["files"] == [{"path": "/app/big.bin", "count": 1, "size_bytes": 3_000}]
    assert set(data["exact"]) == {"efficiency", "wasted_bytes", "user_wasted_percent", "files"}
    assert data["dependencies"] == {"size_bytes": 0, "distributions": [], "notes": []}  # no dist-info
    layers = data["layers"]
    assert all(set(layer) == LAYER_KEYS for layer in layers)
    assert [layer["command"] for layer in layers] == [
        "#(nop) ADD base",
        "pip install",
        "COPY app /app # buildkit",
    ]
    assert [(la["buildpack"], la["layer_name"]) for la in layers] == [
        (None, None),
        ("boxwise/pip-install", "deps"),
        (None, "app"),
    ]
    assert layers[0]["largest_files"] == []  # the base layer's files are not news
    assert layers[1]["largest_files"] == [
        {"path": "/app/big.bin", "size_bytes": 3_000},
        {"path": "/app/small.txt", "size_bytes": 20},
    ]
    assert layers[1]["diff_id"] == layers[1]["digest"] == sha(layer_tar(LAYERS[1]))


def test_json_written_in_pieces_is_the_same_json(tmp_path: Path) -> None:
    """Thousands of rows are streamed out: the text parses to exactly `Analysis.to_json()`."""
    import io

    from boxwise.analyze.efficiency import analyze
    from boxwise.image import open_image

    many = [[("f", f"d/f{n}", n % 7) for n in range(5000)]] * 2
    analysis = analyze(open_image(str(docker_archive(tmp_path / "many.tar", many))))
    out = io.StringIO()
    analysis.write_json(out)
    assert json.loads(out.getvalue()) == analysis.to_json() == json.loads(analysis.dumps())
    assert len(analysis.to_json()["inefficient_files"]) == 5000


def test_text_output(tmp_path: Path) -> None:
    archive = docker_archive(tmp_path / "img.tar", LAYERS, labels=_labels())
    result = run_boxwise("inspect", str(archive), cwd=tmp_path, env={"COLUMNS": "160"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "handmade:latest" in out
    assert "total size:        9.0 kB (9020 bytes)" in out
    assert "dive accounting:" in out and "exact accounting:" in out
    assert "wasted 4.0 kB (4000 bytes)" in out and "wasted 3.0 kB (3000 bytes)" in out
    assert "boxwise/pip-install/deps" in out and "step 1" in out
    assert "/app/big.bin" in out and "Largest files of layer 1" in out
    # the guess is said on stderr; no progress bar when stderr is not a terminal
    assert result.stderr.strip() == f"boxwise: reading '{archive}' as docker-archive:{archive}"
