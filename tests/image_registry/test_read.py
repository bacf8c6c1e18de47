"""registry:// read: an image the engine pushed reads as its `docker save` does, layers only once."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.cli import run_boxwise
from support.registry import PREFIX, RunningRegistry, no_credentials_env

# an overwritten file and two whiteouts (a removed file, a removed directory) over busybox
DOCKERFILE = """FROM {base}
RUN mkdir -p /data/dir && echo one > /data/a && echo keep > /data/b \\
 && head -c 30000 /bin/busybox > /data/dir/big
RUN echo two > /data/a && rm /data/b && rm -rf /data/dir
"""
pytestmark = pytest.mark.engine

# where the image is stored, not what it holds: these differ between a registry and `docker save`
PLACE_FIELDS = ("ref", "name", "source", "resolved_as")
LAYER_PLACE_FIELDS = ("digest", "media_type", "blob_size_bytes")


@pytest.fixture(scope="module")
def pushed(
    docker_client, busybox_image: str, registry: RunningRegistry, tmp_path_factory
) -> Iterator[tuple[str, Path]]:
    """The test image pushed by the engine to the registry, and its `docker save` archive."""
    context = tmp_path_factory.mktemp("layers-context")
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=busybox_image))
    name = f"{PREFIX}/layers:1"
    image, _ = docker_client.images.build(path=str(context), tag=name, network_mode="host", rm=True)
    remote = f"{registry.host}/{PREFIX}/layers"
    image.tag(remote, "1")
    for line in docker_client.api.push(remote, "1", stream=True, decode=True):
        assert "error" not in line, line
    archive = context / "layers.tar"
    with open(archive, "wb") as out:
        for chunk in docker_client.api.get_image(name):
            out.write(chunk)
    yield f"registry://{remote}:1", archive
    docker_client.images.remove(f"{remote}:1", force=True)
    docker_client.images.remove(name, force=True)


def _inspect(ref: str, cache: Path, env: dict[str, str] | None = None) -> dict:
    result = run_boxwise(
        "inspect", ref, "--format", "json", env={"XDG_CACHE_HOME": str(cache), **(env or {})}
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _content(analysis: dict) -> dict:
    kept = {key: value for key, value in analysis.items() if key not in PLACE_FIELDS}
    kept["layers"] = [
        {key: value for key, value in layer.items() if key not in LAYER_PLACE_FIELDS}
        for layer in analysis["layers"]
    ]
    return kept


def test_inspect_equals_docker_save(pushed: tuple[str, Path], tmp_path: Path) -> None:
    ref, archive = pushed
    from_registry = _inspect(ref, tmp_path / "cache-registry", no_credentials_env())
    from_archive = _inspect(f"docker-archive:{archive}", tmp_path / "cache-archive")
    assert from_registry["source"] == "registry"
    assert from_registry["ref"] == ref
    # the engine pushed gzip layers: the stream went through the gzip index path
    assert all(layer["media_type"].endswith("gzip") for layer in from_registry["layers"])
    assert len(from_registry["layers"]) == 4  # busybox's two, then the two RUNs
    assert from_registry["wasted_bytes"] > 0  # the overwritten /data/a
    assert _content(from_registry) == _content(from_archive)


def test_gate_gives_the_same_verdict(pushed: tuple[str, Path], tmp_path: Path) -> None:
    ref, archive = pushed
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), **no_credentials_env()}
    args = ("--highestWastedBytes", "1")  # the overwritten file makes this fail
    from_registry = run_boxwise("gate", ref, *args, env=env)
    from_archive = run_boxwise("gate", f"docker-archive:{archive}", *args, env=env)
    assert from_registry.returncode == from_archive.returncode == 1, from_registry.stderr
    assert from_registry.stdout.splitlines()[1:] == from_archive.stdout.splitlines()[1:]
    assert "FAIL: highestWastedBytes" in from_registry.stdout


def test_warm_cache_downloads_no_layer(
    pushed: tuple[str, Path], registry: RunningRegistry, tmp_path: Path
) -> None:
    ref, _ = pushed
    cache = tmp_path / "cache"
    first = _inspect(ref, cache, no_credentials_env())
    layer_digests = [layer["digest"] for layer in first["layers"]]
    downloads = [len(registry.requests("GET", digest)) for digest in layer_digests]
    assert all(count >= 1 for count in downloads)  # the cold read fetched every layer
    second = _inspect(ref, cache, no_credentials_env())
    assert second == first
    assert [len(registry.requests("GET", digest)) for digest in layer_digests] == downloads


def test_by_digest_reads_the_same_image(docker_client, pushed: tuple[str, Path], tmp_path: Path) -> None:
    ref, _ = pushed
    remote = ref.removeprefix("registry://").rpartition(":")[0]
    digests = docker_client.images.get(remote + ":1").attrs["RepoDigests"]
    by_digest = next(d for d in digests if d.startswith(remote + "@"))
    tagged = _inspect(ref, tmp_path / "cache", no_credentials_env())
    pinned = _inspect(f"registry://{by_digest}", tmp_path / "cache", no_credentials_env())
    assert _content(pinned) == _content(tagged)
    assert pinned["layers"] == tagged["layers"]


def _one_line_error(result, *needles: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_unknown_tag_and_unreachable_host(pushed: tuple[str, Path], tmp_path: Path) -> None:
    ref, _ = pushed
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), **no_credentials_env()}
    missing = ref.replace(":1", ":nope")
    _one_line_error(run_boxwise("inspect", missing, env=env), missing, "MANIFEST_UNKNOWN", "check the")
    _one_line_error(run_boxwise("gate", "registry://127.0.0.1:9/x/y:1", env=env), "cannot reach 127.0.0.1:9")
    _one_line_error(
        run_boxwise("inspect", "registry://127.0.0.1:9/UPPER:1", env=env), "not a registry reference"
    )


def test_a_changed_config_blob_is_refused(
    docker_client, busybox_image: str, registry: RunningRegistry, tmp_path: Path
) -> None:
    remote = f"{registry.host}/{PREFIX}/corrupt"
    docker_client.images.get(busybox_image).tag(remote, "1")
    try:
        for line in docker_client.api.push(remote, "1", stream=True, decode=True):
            assert "error" not in line, line
    finally:
        docker_client.images.remove(f"{remote}:1")
    config_digest = docker_client.images.get(busybox_image).id
    blob = registry.data / "docker/registry/v2/blobs/sha256" / config_digest[7:9] / config_digest[7:] / "data"
    blob.write_bytes(blob.read_bytes().replace(b"busybox", b"busyb0x"))
    result = run_boxwise(
        "inspect", f"registry://{remote}:1", env={"XDG_CACHE_HOME": str(tmp_path), **no_credentials_env()}
    )
    _one_line_error(result, f"registry://{remote}:1", "digest mismatch", config_digest)


def test_diff_against_its_docker_save_shows_no_change(pushed: tuple[str, Path], tmp_path: Path) -> None:
    ref, archive = pushed
    env = {"XDG_CACHE_HOME": str(tmp_path), **no_credentials_env()}
    result = run_boxwise("diff", "--format", "json", f"docker-archive:{archive}", ref, env=env)
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    assert [layer["status"] for layer in diff["layers"]] == ["unchanged"] * 4
    assert diff["change"]["size_bytes"] == 0
    assert all(not rows for rows in diff["files"].values())


def test_report_with_a_registry_baseline(pushed: tuple[str, Path], tmp_path: Path) -> None:
    ref, archive = pushed
    env = {"XDG_CACHE_HOME": str(tmp_path), **no_credentials_env()}
    result = run_boxwise(
        "report", f"docker-archive:{archive}", "--baseline", ref, "--format", "markdown", env=env
    )
    assert result.returncode == 0, result.stderr
    assert f"Compared with the baseline `{ref}`" in result.stdout
    assert "| image size |" in result.stdout and "±0 B |" in result.stdout
    assert "(4, 0 new or rebuilt)" in result.stdout


def _flaky_proxy(
    target: tuple[str, int], marker: bytes = b"", keep: int = 0, refuse: int = 0
) -> tuple[int, Callable[[], None], list[int]]:
    """A TCP proxy in front of a registry, flaky as networks and registries are: the first `refuse`
    connections get a 503 (`Retry-After: 1`); an answer to a request holding `marker` is cut
    `keep` bytes in. Also gives how many were refused so far."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    refused = [0]

    def pipe(client: socket.socket) -> None:
        if refused[0] < refuse:
            refused[0] += 1
            with client:
                client.recv(65536)
                client.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
            return
        upstream = socket.create_connection(target)
        cut = {"left": -1}

        def forward_requests() -> None:
            with contextlib.suppress(OSError):
                while data := client.recv(65536):
                    if marker and marker in data:
                        cut["left"] = keep
                    upstream.sendall(data)

        threading.Thread(target=forward_requests, daemon=True).start()
        with contextlib.suppress(OSError), client, upstream:
            while data := upstream.recv(65536):
                if cut["left"] >= 0:
                    if len(data) >= cut["left"]:
                        client.sendall(data[: cut["left"]])
                        client.shutdown(socket.SHUT_RDWR)  # the FIN goes out now, mid-answer
                        return
                    cut["left"] -= len(data)
                client.sendall(data)

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                client, _ = server.accept()
                threading.Thread(target=pipe, args=(client,), daemon=True).start()
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], stop.set, refused


def test_a_download_that_breaks_off_is_one_line(pushed: tuple[str, Path], tmp_path: Path) -> None:
    ref, _ = pushed
    host, _, rest = ref.removeprefix("registry://").partition("/")
    first = _inspect(ref, tmp_path / "warm", no_credentials_env())["layers"][0]  # the 1 MB busybox layer
    address, _, port = host.partition(":")
    proxy_port, stop, _ = _flaky_proxy((address, int(port)), first["digest"].encode(), 100_000)
    try:
        env = {"XDG_CACHE_HOME": str(tmp_path / "cold"), **no_credentials_env()}
        result = run_boxwise("inspect", f"registry://127.0.0.1:{proxy_port}/{rest}", env=env)
    finally:
        stop()
    _one_line_error(result, f"registry://127.0.0.1:{proxy_port}/{rest}", "broke off", "read the image again")


@pytest.mark.parametrize("refuse", [2, 10])
def test_a_busy_registry_is_waited_out(refuse: int, pushed: tuple[str, Path], tmp_path: Path) -> None:
    ref, _ = pushed
    host, _, rest = ref.removeprefix("registry://").partition("/")
    address, _, port = host.partition(":")
    proxy_port, stop, refused = _flaky_proxy((address, int(port)), refuse=refuse)
    proxied = f"registry://127.0.0.1:{proxy_port}/{rest}"
    try:
        env = {"XDG_CACHE_HOME": str(tmp_path), **no_credentials_env()}
        result = run_boxwise("inspect", proxied, "--format", "json", env=env)
    finally:
        stop()
    if refuse <= 3:  # within the retries: the answers after them are used
        assert result.returncode == 0, result.stderr
        assert len(json.loads(result.stdout)["layers"]) == 4
        assert refused[0] == refuse
    else:
        _one_line_error(result, proxied, "answered 503", "try again later")
        assert refused[0] == 4  # the request and its 3 retries
