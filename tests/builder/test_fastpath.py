"""The host-side fast path: a code-only rebuild runs no build container and gives, byte for byte, the
image the full build in a container gives; anything that changes a dependency key runs the full build."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from .helpers import PREFIX, build, build_ok, run_image, write_app

pytestmark = pytest.mark.engine

MAIN = "import six\nprint('v1', six.__version__)\n"
TAKEN = "fast path: every dependency layer keeps its key: no build container"
FULL = {"BOXWISE_FAST_PATH": "0"}
SYSTEM_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def _app(folder: Path) -> Path:
    return write_app(
        folder, {"requirements.txt": "six==1.16.0\n", "Procfile": "web: python3 main.py\n", "main.py": MAIN}
    )


def _image_id(out: str) -> str:
    found = re.search(r"  id: (sha256:[0-9a-f]{64})", out)
    assert found, out[-2000:]
    return found.group(1)


def _archive_id(archive: Path) -> str:
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
    return manifest["Config"].rsplit("/", 1)[-1]


def test_a_code_only_change_takes_the_fast_path_and_gives_the_full_builds_image(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    app = _app(tmp_path / "fast-app")
    cache, tag = tmp_path / "cache", f"{PREFIX}/fast-app:1"
    out = build_ok(app, tag, cache)
    assert "fast path: not taken: no record of a full build" in out

    (app / "main.py").write_text(MAIN.replace("v1", "v2"))
    fast = build_ok(app, tag, cache)
    assert TAKEN in fast
    assert "detect: group" not in fast and "$ pip install" not in fast  # no lifecycle ran
    assert "layer pip-install:packages: reused (key unchanged; from the layer cache)" in fast
    assert "app:app: rebuilt: app files changed" in fast
    assert run_image(docker_client, tag) == (0, "v2 1.16.0\n")

    full = build_ok(app, tag, cache, env=FULL)
    assert "fast path: not taken: BOXWISE_FAST_PATH=0" in full
    assert "detect: group 1 passed" in full  # the buildpacks ran in a build container
    assert _image_id(full) == _image_id(fast)  # the same config and layers, to the byte

    (app / "requirements.txt").write_text("six==1.16.0\nidna==3.7\n")
    changed = build_ok(app, tag, cache)
    assert "fast path: not taken: pip-install: packages changed" in changed
    assert "Successfully installed idna-3.7" in changed  # pip ran, in the container

    (app / "main.py").write_text(MAIN.replace("v1", "v3"))
    again = build_ok(app, tag, cache)
    assert TAKEN in again
    assert run_image(docker_client, tag, ["python3", "-c", "import idna, main"]) == (0, "v3 1.16.0\n")


def test_a_procfile_change_runs_the_full_build(base_image: str, tmp_path: Path) -> None:
    app = _app(tmp_path / "procfile-app")
    cache, tag = tmp_path / "cache", f"{PREFIX}/procfile-app:1"
    build_ok(app, tag, cache)
    (app / "Procfile").write_text("web: python3 -u main.py\n")
    out = build_ok(app, tag, cache)
    assert "fast path: not taken: procfile-run: commands, processes changed" in out
    assert "process web: python3 -u main.py (default)" in out  # said by procfile-run in the container


def test_registry_and_archive_outputs_from_the_fast_path_equal_the_full_builds(
    base_image: str, local_registry: str, tmp_path: Path
) -> None:
    app = _app(tmp_path / "out-app")
    cache, tag = tmp_path / "cache", f"{PREFIX}/out-app:1"
    build_ok(app, tag, cache)
    (app / "main.py").write_text(MAIN.replace("v1", "v2"))

    pushed = {}
    for name, env in (("fast", None), ("full", FULL)):
        ref = f"registry://{local_registry}/{PREFIX}/out-app:{name}"
        out = build_ok(app, tag, cache, "--output", ref, env=env)
        assert (TAKEN in out) == (env is None)
        pushed[name] = re.search(r"image: registry://\S+@(sha256:[0-9a-f]{64})", out).group(1)
    assert pushed["fast"] == pushed["full"]  # the same manifest digest

    archives = {name: tmp_path / f"{name}.tar" for name in ("fast", "full")}
    for name, env in (("fast", None), ("full", FULL)):
        out = build_ok(app, tag, cache, "--output", f"docker-archive:{archives[name]}", env=env)
        assert (TAKEN in out) == (env is None)
    assert _archive_id(archives["fast"]) == _archive_id(archives["full"])


def test_the_secret_check_reads_the_new_app_layer_on_the_fast_path(
    base_image: str, docker_client, tmp_path: Path
) -> None:
    one_cert = re.search(
        r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", SYSTEM_CA.read_text(), re.S
    ).group(0)
    ca = tmp_path / "corp-ca.pem"
    ca.write_text(one_cert)
    app = write_app(tmp_path / "ca-app", {"Procfile": "web: python3 main.py\n", "main.py": "print(1)\n"})
    cache, tag = tmp_path / "cache", f"{PREFIX}/fast-ca-app:1"
    build_ok(app, tag, cache, "--ca-cert", str(ca))
    before = docker_client.images.get(tag).id
    (app / "certs").mkdir()
    (app / "certs" / "bundle.pem").write_text("# corp\n" + one_cert)  # a code change leaking the CA
    result = build(app, tag, cache, "--ca-cert", str(ca))
    assert TAKEN in result.stdout
    assert result.returncode == 2
    assert "/workspace/certs/bundle.pem contains a CA certificate" in result.stderr
    assert docker_client.images.get(tag).id == before  # nothing was written: the tag is the last good image
