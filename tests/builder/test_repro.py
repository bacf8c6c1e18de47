"""Reproducible images: the same source built twice with two empty caches gives the same image ID;
dive rates every layer boxwise writes as free of waste; the OCI layout output reads back the same."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from .helpers import PREFIX, WEB_APP, build_ok, dive_efficiency, save, write_app

pytestmark = pytest.mark.engine


def _archive_image_id(archive: Path) -> tuple[str, list[str]]:
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
        config = json.load(tar.extractfile(manifest["Config"]))
    return manifest["Config"].rsplit("/", 1)[-1], config["rootfs"]["diff_ids"]


def test_same_source_twice_with_empty_caches_gives_the_same_image_id(base_image: str, tmp_path: Path) -> None:
    app = write_app(
        tmp_path / "repro",
        {
            "requirements.txt": "six==1.16.0\nidna==3.7\n",
            "Procfile": "web: python3 app.py six idna\n",
            "app.py": WEB_APP,
            "pkg/data.txt": "some data\n",
        },
    )
    (app / "app.py").touch()  # a fresh mtime must not matter
    first, second = tmp_path / "first.tar", tmp_path / "second.tar"
    build_ok(app, f"{PREFIX}/repro:1", tmp_path / "cache-1", "--output", f"docker-archive:{first}")
    (app / "pkg" / "data.txt").touch()
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"stale bytecode is never exported")
    build_ok(app, f"{PREFIX}/repro:1", tmp_path / "cache-2", "--output", f"docker-archive:{second}")

    first_id, first_layers = _archive_image_id(first)
    second_id, second_layers = _archive_image_id(second)
    assert first_id == second_id
    assert first_layers == second_layers

    assert dive_efficiency(first, tmp_path) >= 0.999


def test_every_built_image_scores_at_least_0999_in_dive(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "pp-dive",
        {
            "pyproject.toml": '[project]\nname = "dived"\nversion = "1.0"\ndependencies = ["six==1.16.0"]\n',
            "requirements.txt": "six==1.16.0\nidna==3.7\n",
            "Procfile": "web: python3 -m dived\n",
            "dived/__init__.py": "",
            "dived/__main__.py": "print('dived')\n",
        },
    )
    tag = f"{PREFIX}/pp-dive:1"
    build_ok(app, tag, tmp_path / "cache")
    archive = save(docker_client, tag, tmp_path / "pp-dive.tar")
    assert dive_efficiency(archive, tmp_path) >= 0.999


def test_oci_layout_output_holds_the_same_image(base_image: str, tmp_path: Path) -> None:
    from boxwise.image import open_image

    app = write_app(tmp_path / "oci-app", {"Procfile": "web: python3 app.py\n", "app.py": WEB_APP})
    cache = tmp_path / "cache"
    build_ok(app, f"{PREFIX}/oci-app:1", cache, "--output", f"docker-archive:{tmp_path / 'app.tar'}")
    build_ok(app, f"{PREFIX}/oci-app:1", cache, "--output", f"oci:{tmp_path / 'layout'}")

    from_layout = open_image(f"oci:{tmp_path / 'layout'}")
    from_archive = open_image(f"docker-archive:{tmp_path / 'app.tar'}")
    assert from_layout.config == from_archive.config
    assert [layer.diff_id for layer in from_layout.layers] == [layer.diff_id for layer in from_archive.layers]
    assert from_layout.config["config"]["Entrypoint"] == ["python3", "app.py"]
