"""pack's --cache-image: the layer cache kept in a registry image warms a runner with an empty disk.

The registry is Debian's docker-registry on 127.0.0.1; every "fresh runner" is an empty --cache
folder and an image name the engine has never held."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from .helpers import PREFIX, build, build_ok, run_image, write_app

pytestmark = pytest.mark.engine

MAIN = "import termcolor\nprint('v1', termcolor.__name__)\n"


def sdist_app(folder: Path) -> Path:
    # termcolor 1.1.0 exists only as an sdist: pip builds a wheel and keeps it in its download cache.
    files = {"requirements.txt": "termcolor==1.1.0\n", "Procfile": "web: python3 main.py\n", "main.py": MAIN}
    return write_app(folder, files)


def dependency_layer(out: str) -> str:
    return next(
        re.findall(r"sha256:[0-9a-f]{12}", line)[0]
        for line in out.splitlines()
        if line.startswith("  pip-install:packages:")
    )


def _download_cache_sha(cache: Path) -> str:
    """The diff_id of pip's download cache (the cache-only layer) in a runner's layer cache."""
    (record,) = cache.glob("apps/*/layers.json")
    layers = json.loads(record.read_text())["buildpacks"]["pip-install"]
    (sha,) = [entry["sha"] for entry in layers.values() if not entry["launch"] and not entry["build"]]
    return str(sha)


def _blob_gets(registry_log: Path, digest: str, after: int) -> int:
    """How many times the blob was downloaded (GET) since the log had `after` characters."""
    return len(re.findall(rf'"GET /v2/[^ ]+/blobs/{digest}', registry_log.read_text()[after:]))


def manifest_puts(registry_log: Path) -> int:
    return len(re.findall(r'"PUT /v2/[^ ]+/manifests/', registry_log.read_text()))


@pytest.mark.slow  # three builds, pip downloading and building a wheel once
def test_a_fresh_runner_reads_the_cache_image_and_pip_never_runs(
    base_image: str, docker_client, local_registry: str, tmp_path: Path
) -> None:
    app = sdist_app(tmp_path / "app")
    cache_image = f"registry://{local_registry}/{PREFIX}/app:boxwise-cache"
    out = build_ok(app, f"{PREFIX}/cache-image:1", tmp_path / "runner-1", "--cache-image", cache_image)
    assert "not read" in out and "starting cold" in out  # none there yet: one line, a cold build
    assert f"pushed {local_registry}/{PREFIX}/app:boxwise-cache" in out
    pushed = dependency_layer(out)

    # A code-only change on a runner with an empty disk, under a name the engine never had.
    (app / "main.py").write_text(MAIN.replace("v1", "v2"))
    puts = manifest_puts(tmp_path / "registry.log")
    seen = len((tmp_path / "registry.log").read_text())
    tag = f"{PREFIX}/cache-image:2"
    out = build_ok(app, tag, tmp_path / "runner-2", "--cache-image", cache_image)
    # pip's download cache stays in the registry: no build container runs, nothing would read it
    assert (
        f"restore: 2 cached layer(s) from the cache image {cache_image} (1 downloaded, "
        "1 download cache(s) left there until a build needs them)"
    ) in out
    download_cache = _download_cache_sha(tmp_path / "runner-1")
    assert not _blob_gets(tmp_path / "registry.log", download_cache, seen), out
    assert "$ pip install" not in out
    # the cache image carries the fast-path record: no build container on a runner with no disk
    assert "fast path: every dependency layer keeps its key" in out
    assert "pip-install:packages: reused (key unchanged)" in out
    assert dependency_layer(out) == pushed
    assert "cache image" in out and "unchanged; not written" in out
    assert manifest_puts(tmp_path / "registry.log") == puts
    assert run_image(docker_client, tag) == (0, "v2 termcolor\n")

    # A dependency change on a third fresh runner: pip runs, and its wheel comes from the cached
    # download cache instead of being built again.
    (app / "requirements.txt").write_text("termcolor==1.1.0\nsix==1.16.0\n")
    out = build_ok(app, f"{PREFIX}/cache-image:3", tmp_path / "runner-3", "--cache-image", cache_image)
    assert "pip-install:packages: rebuilt: requirements.txt changed" in out
    assert f"restore: 1 download cache(s) from the cache image {cache_image}" in out  # before pip
    assert _blob_gets(tmp_path / "registry.log", download_cache, seen)
    assert "Building wheel for termcolor" not in out
    assert f"pushed {local_registry}/{PREFIX}/app:boxwise-cache" in out  # the new key is kept


def _push_hostile_cache_image(registry: str, repository: str, base_top: str, folder: Path) -> None:
    """A cache image whose config claims a diff_id its layer does not have, and whose label names a
    layer outside the layers folder (pushed with boxwise's own registry client)."""
    from boxwise.image.registry import push_image

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("layers/pip-install/packages/evil.py")
        body = b"print('pwned')\n"
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    layer = folder / "layer.tar"
    layer.write_bytes(out.getvalue())
    blob = "sha256:" + hashlib.sha256(out.getvalue()).hexdigest()
    claimed = "sha256:" + "ab" * 32
    entry = {"sha": claimed, "data": {"key": "whatever"}, "launch": True, "build": True, "cache": True}
    label = {
        "buildpacks": [{"key": "pip-install", "layers": {"packages": entry, "../../../tmp/escape": entry}}],
        "runImage": {"topLayer": base_top},
    }
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"io.buildpacks.lifecycle.cache.metadata": json.dumps(label)}},
            "rootfs": {"type": "layers", "diff_ids": [claimed]},
        }
    ).encode()
    media = "application/vnd.oci.image.layer.v1.tar"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [{"mediaType": media, "digest": blob, "size": len(out.getvalue())}],
        }
    ).encode()
    where = f"{registry}/{repository}:boxwise-cache"
    push_image(config, manifest, [(blob, len(out.getvalue()), layer)], where, say=lambda line: None)


def test_a_cache_image_that_lies_is_refused_layer_by_layer_and_the_build_goes_on(
    base_image: str, docker_client, local_registry: str, tmp_path: Path
) -> None:
    top = docker_client.images.get(base_image).attrs["RootFS"]["Layers"][-1]
    _push_hostile_cache_image(local_registry, f"{PREFIX}/hostile", top, tmp_path)
    app = write_app(
        tmp_path / "app",
        {"requirements.txt": "# none\n", "Procfile": "web: python3 main.py\n", "main.py": ""},
    )
    cache_image = f"registry://{local_registry}/{PREFIX}/hostile:boxwise-cache"
    tag = f"{PREFIX}/hostile:1"
    result = build(app, tag, tmp_path / "cache", "--cache-image", cache_image)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert "does not match its diff_id" in result.stdout
    assert "pip-install:packages: rebuilt: no cached layer" in result.stdout
    assert not (Path("/tmp") / "escape.toml").exists()
    files = docker_client.containers.run(tag, ["find", "/layers", "-name", "evil.py"], remove=True)
    assert files == b""


def test_a_cache_image_outside_a_registry_is_refused_before_the_build_with_one_line(
    base_image: str, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "app",
        {"requirements.txt": "# none\n", "Procfile": "web: python3 main.py\n", "main.py": ""},
    )
    bad = build(app, f"{PREFIX}/ro:1", tmp_path / "cache", "--cache-image", "docker://x:cache")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1].endswith("write registry://HOST/REPO:TAG")
    assert "Traceback" not in bad.stderr
