"""Issue 12 item 4: a digest from a manifest, index or config never names a file or member
before it is checked to be `sha256:` + 64 hex.

The hostile base image lists `sha256:../../<a file of the runner>` as a diff_id: the build must
refuse it in one line, copy nothing of that file into its output, and write no `../` member.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from support.cli import run_boxwise

from tests.image.archives import docker_archive, layer_tar, oci_layout, sha

from .rawarchive import config_for, raw_archive

STOLEN = b"runner-private-file-0123456789"


def _runner_file(tmp_path: Path) -> Path:
    """A tar on the runner, named as a cache blob would be (`<digest>.tar`)."""
    secret = tmp_path / "runner" / "secret.tar"
    secret.parent.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("stolen.txt")
        info.size = len(STOLEN)
        tar.addfile(info, io.BytesIO(STOLEN))
    secret.write_bytes(buffer.getvalue())
    return secret


def _evil_archive(path: Path, diff_id: str) -> Path:
    """A docker-archive whose config names the layer by `diff_id` (a path, not a digest)."""
    return raw_archive(path, [layer_tar([("f", "etc/os-release", 10)])], config_for([diff_id]))


def _climb(cache: Path, secret: Path) -> str:
    blobs = cache / "blobs"  # where the layer cache keeps `<hex>.tar`
    return "sha256:" + str(Path("../" * len(blobs.parts)) / secret.with_suffix("").relative_to("/"))


def test_a_diff_id_that_is_a_path_stops_the_build(tmp_path) -> None:
    secret = _runner_file(tmp_path)
    cache = tmp_path / "cache"
    archive = _evil_archive(tmp_path / "evil.tar", _climb(cache, secret))
    app = tmp_path / "app"
    app.mkdir()
    (app / "Procfile").write_text("web: python3 -m http.server\n")
    out = tmp_path / "out.tar"
    result = run_boxwise(
        "build", str(app), "--runner", "local", "--base", f"docker-archive:{archive}",
        "--output", f"docker-archive:{out}", "--cache", str(cache),
        env={"XDG_CACHE_HOME": str(tmp_path / "xdg")},
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    if out.exists():
        data = out.read_bytes()
        assert STOLEN not in data, "a file of the runner was copied into the image"
        with tarfile.open(out) as tar:
            assert not [n for n in tar.getnames() if ".." in n.split("/")]
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not a sha256 digest" in result.stderr
    assert result.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("place", ["docker-archive", "oci"])
def test_every_digest_is_checked_before_it_names_a_file(tmp_path, place) -> None:
    if place == "docker-archive":
        target = _evil_archive(tmp_path / "evil.tar", "sha256:../../etc/passwd")
    else:
        target = oci_layout(tmp_path / "layout", [[("f", "a", 3)]])
        index = json.loads((target / "index.json").read_text())
        index["manifests"][0]["digest"] = "sha256:../../../../etc/hostname"
        (target / "index.json").write_text(json.dumps(index))
    result = run_boxwise("inspect", f"{place}:{target}", env={"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "not a sha256 digest" in result.stderr


def test_a_good_archive_still_reads(tmp_path) -> None:
    archive = docker_archive(tmp_path / "ok.tar", [[("f", "a", 3)]])
    result = run_boxwise("inspect", f"docker-archive:{archive}", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["layers"][0]["digest"] == sha(layer_tar([("f", "a", 3)]))
