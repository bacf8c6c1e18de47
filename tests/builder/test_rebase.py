"""`boxwise rebase`: an app put on a patched base without rebuilding, in the engine and in a registry;
refused when the new base's Python ABI differs from the dependency layer's."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from support.cli import run_boxwise

from .helpers import PREFIX, REPO, build_ok, http_get_from_image, layer_ids, run_image, write_app

pytestmark = pytest.mark.engine

APP = {
    "requirements.txt": "six==1.16.0\n",
    "Procfile": "web: python3 main.py\n",
    "main.py": """\
import http.server, os, six

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello on six {six.__version__}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello).serve_forever()
""",
}


def rebase(*args: str):
    return run_boxwise("rebase", *args, env={"PYTHONPATH": str(REPO / "src")})


def derived_base(client, tag: str, dockerfile_tail: str, files: dict[str, bytes] | None = None) -> str:
    """`FROM boxwise-python:bookworm` plus a little on top, built locally (nothing pulled)."""
    import tarfile

    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in {
            "Dockerfile": f"FROM {BASE_NAME}\n{dockerfile_tail}".encode(),
            **(files or {}),
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, network_mode="none", rm=True)
    return tag


BASE_NAME = "boxwise-python:bookworm"


@pytest.fixture(scope="module")
def built(base_image, docker_client, tmp_path_factory) -> tuple[str, Path]:
    """A small app with a dependency layer, built once for the module, and its cache."""
    tmp = tmp_path_factory.mktemp("rebase")
    app = write_app(tmp / "app", APP)
    tag = f"{PREFIX}/rebase-app:1"
    build_ok(app, tag, tmp / "cache")
    return tag, tmp


@pytest.fixture(scope="module")
def patched_base(built, docker_client) -> str:
    tail = "COPY patch.txt /etc/boxwise-patch.txt\n"
    return derived_base(docker_client, f"{PREFIX}/patched-base:1", tail, {"patch.txt": b"patched base\n"})


def test_rebase_in_the_engine_swaps_the_base_and_keeps_every_app_layer(built, patched_base, docker_client):
    tag, tmp = built
    before = layer_ids(docker_client, tag)
    new_base = layer_ids(docker_client, patched_base)
    old_base_count = len(layer_ids(docker_client, BASE_NAME))
    rebased = f"{PREFIX}/rebase-app:rebased"

    result = rebase(tag, "--run-image", patched_base, "--tag", rebased, "--cache", str(tmp / "cache"))

    assert result.returncode == 0, result.stderr
    after = layer_ids(docker_client, rebased)
    assert after == [*new_base, *before[old_base_count:]]  # new base, then the same app layers
    assert "hello on six 1.16.0" in http_get_from_image(docker_client, rebased, "rebased")
    code, out = run_image(docker_client, rebased, ["cat", "/etc/boxwise-patch.txt"])
    assert (code, out) == (0, "patched base\n")
    config = docker_client.images.get(rebased).attrs["Config"]
    assert config["User"] == "1000:1000"
    assert "VIRTUAL_ENV=/layers/pip-install/packages" in config["Env"]
    label = config["Labels"]["io.buildpacks.lifecycle.metadata"]
    assert f'"topLayer": "{new_base[-1]}"' in label  # a second rebase finds the new base's layers


def test_rebase_in_a_registry_uploads_no_app_layer(
    built, patched_base, docker_client, local_registry, tmp_path
):
    tag, tmp = built
    app_ref = f"{local_registry}/rebase-app:1"
    build_ok(tmp / "app", tag, tmp / "cache", "--output", f"registry://{app_ref}")
    docker_client.images.get(patched_base).tag(f"{local_registry}/base", "patched")
    try:
        docker_client.images.push(f"{local_registry}/base", "patched")
    finally:
        docker_client.images.remove(f"{local_registry}/base:patched")
    log = tmp_path / "registry.log"
    seen = len(log.read_text())

    result = rebase(
        f"registry://{app_ref}",
        "--run-image",
        f"registry://{local_registry}/base:patched",
        "--cache",
        str(tmp_path / "rebase-cache"),
    )

    assert result.returncode == 0, result.stderr
    requests = re.findall(r'"([A-Z]+ /v2/\S* HTTP/[\d.]+)"', log.read_text()[seen:])
    blob_puts = [line for line in requests if line.startswith("PUT ") and "/blobs/" in line]
    assert len(blob_puts) == 1  # the new config only: no layer blob
    mounts = [line for line in requests if line.startswith("POST ") and "mount=" in line]
    assert len(mounts) == 2  # the patched base's two layers, mounted from its repository
    pulled = f"{local_registry}/rebase-app:1"
    docker_client.images.pull(pulled)
    try:
        rebased_ids = layer_ids(docker_client, pulled)
        new_base = layer_ids(docker_client, patched_base)
        old_base_count = len(layer_ids(docker_client, BASE_NAME))
        assert rebased_ids[: len(new_base)] == new_base
        assert (
            rebased_ids[len(new_base) :] == layer_ids(docker_client, tag)[old_base_count:]
        )  # same app layers
        assert "hello on six 1.16.0" in http_get_from_image(docker_client, pulled, "rebased-registry")
    finally:
        docker_client.images.remove(pulled, force=True)


def test_rebase_onto_another_python_minor_is_refused_with_the_reason(built, docker_client):
    tag, tmp = built
    other = derived_base(docker_client, f"{PREFIX}/py313-base:1", "ENV PYTHON_VERSION=3.13.1\n")
    before = docker_client.images.get(tag).id

    result = rebase(tag, "--run-image", other, "--cache", str(tmp / "cache"))

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "3.13" in lines[0] and "3.11" in lines[0] and "rebuild" in lines[0]
    assert docker_client.images.get(tag).id == before  # nothing written


def test_rebase_of_an_image_without_buildpack_metadata_is_refused(docker_client, base_image, tmp_path):
    result = rebase(BASE_NAME, "--run-image", BASE_NAME, "--cache", str(tmp_path / "cache"))

    assert result.returncode == 2
    assert "io.buildpacks.lifecycle.metadata" in result.stderr and "Traceback" not in result.stderr
