"""`boxwise build --output registry://REF`: pushed with no engine, pulled and run by the engine;
a second push uploads nothing; a registry with auth wants credentials and never shows them."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import run_boxwise
from support.registry import PASSWORD, PREFIX, USER, RunningRegistry, no_credentials_env

GREETING = "hello from the registry"
PUSHED = re.compile(
    r"^pushed (\S+)  digest (sha256:[0-9a-f]{64})  "
    r"\((\d+) blobs uploaded, (\d+) mounted from other repositories, (\d+) already there\)$"
)


@pytest.fixture(scope="module")
def base_archive(docker_client, python_base: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python run base as a file: with it, --runner local needs no engine at all."""
    archive = tmp_path_factory.mktemp("base") / "python-base.tar"
    with open(archive, "wb") as out:
        for chunk in docker_client.api.get_image(python_base, chunk_size=1 << 20):
            out.write(chunk)
    return archive


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("apps") / "hello"
    folder.mkdir()
    (folder / "Procfile").write_text(f"web: python3 -c 'print(\"{GREETING}\")'\n")
    return folder


def build(app: Path, base: Path, output: str, cache: Path, env: dict[str, str] | None = None):
    """The build as CI runs it with no engine: DOCKER_HOST points nowhere."""
    return run_boxwise(
        "build", str(app), "--runner", "local", "--run-image", f"docker-archive:{base}",
        "--output", output, "--cache", str(cache),
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock", "XDG_CACHE_HOME": str(cache),
             **no_credentials_env(), **(env or {})},
    )  # fmt: skip


def pushed_line(stdout: str) -> re.Match[str]:
    found = [PUSHED.match(line) for line in stdout.splitlines()]
    matches = [match for match in found if match]
    assert len(matches) == 1, stdout
    return matches[0]


@pytest.fixture(scope="module")
def first_push(
    app: Path, base_archive: Path, registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, Path]]:
    cache = tmp_path_factory.mktemp("build-cache")
    name = f"{registry.host}/{PREFIX}/hello:1"
    result = build(app, base_archive, f"registry://{name}", cache)
    assert result.returncode == 0, result.stdout + result.stderr
    yield name, pushed_line(result.stdout).group(2), cache


@pytest.mark.engine
def test_the_engine_pulls_and_runs_what_was_pushed(docker_client, first_push, registry) -> None:
    name, digest, _ = first_push
    assert registry.requests("PUT", f"/{PREFIX}/hello/manifests/1")
    repository, _, tag = name.rpartition(":")
    image = docker_client.images.pull(repository, tag=tag)
    try:
        assert f"{repository}@{digest}" in image.attrs["RepoDigests"]
        output = docker_client.containers.run(name, remove=True, network_mode="host")
        assert output.decode().strip() == GREETING
    finally:
        docker_client.images.remove(name, force=True)


@pytest.mark.engine
def test_the_pushed_image_reads_back(first_push, tmp_path: Path) -> None:
    name, digest, _ = first_push
    env = {"XDG_CACHE_HOME": str(tmp_path), **no_credentials_env()}
    result = run_boxwise("inspect", f"registry://{name}@{digest}", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    analysis = json.loads(result.stdout)
    assert analysis["source"] == "registry"
    assert analysis["layers"][-1]["layer_name"] == "app"


@pytest.mark.engine
def test_a_second_push_uploads_no_blob(app, base_archive, first_push, registry: RunningRegistry) -> None:
    name, digest, cache = first_push
    uploads = len(registry.requests("POST", f"/{PREFIX}/hello/blobs/uploads/"))
    heads = len(registry.requests("HEAD", f"/{PREFIX}/hello/blobs/"))
    assert uploads >= 3  # config, base layer, app layer went up the first time
    result = build(app, base_archive, f"registry://{name}", cache)
    assert result.returncode == 0, result.stdout + result.stderr
    line = pushed_line(result.stdout)
    assert line.group(2) == digest  # same source, same base: same image
    assert (line.group(3), line.group(4), line.group(5)) == ("0", "0", str(uploads))
    assert len(registry.requests("POST", f"/{PREFIX}/hello/blobs/uploads/")) == uploads
    assert len(registry.requests("HEAD", f"/{PREFIX}/hello/blobs/")) == heads + uploads


@pytest.mark.engine
def test_a_base_read_from_a_registry_gives_the_same_image_with_no_engine(
    app, python_base: str, docker_client, first_push, registry: RunningRegistry, tmp_path: Path
) -> None:
    """--run-image registry://REF: the base comes from the registry (no engine, no file), and the
    image has the very layers of the one built on the same base saved as a file."""
    name, digest, _ = first_push
    base_ref = f"{registry.host}/{PREFIX}/python-base:1"
    docker_client.images.get(python_base).tag(base_ref)
    try:
        for line in docker_client.images.push(base_ref, stream=True, decode=True):
            assert "error" not in line, line
    finally:
        docker_client.images.remove(base_ref)
    result = run_boxwise(
        "build", str(app), "--runner", "local", "--run-image", f"registry://{base_ref}",
        "--output", f"registry://{registry.host}/{PREFIX}/hello-from-registry-base:1",
        "--cache", str(tmp_path / "cache"),
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock", "XDG_CACHE_HOME": str(tmp_path / "cache"),
             **no_credentials_env()},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    pushed = f"{registry.host}/{PREFIX}/hello-from-registry-base:1@{pushed_line(result.stdout).group(2)}"

    def read(ref: str) -> dict:
        env = {"XDG_CACHE_HOME": str(tmp_path / "read"), **no_credentials_env()}
        shown = run_boxwise("inspect", f"registry://{ref}", "--format", "json", env=env)
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)

    from_registry_base, from_file_base = read(pushed), read(f"{name}@{digest}")
    assert [layer["diff_id"] for layer in from_registry_base["layers"]] == [
        layer["diff_id"] for layer in from_file_base["layers"]
    ]


def _one_line_error(result, *needles: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr


@pytest.mark.engine
def test_auth_registry_wants_credentials_and_never_shows_them(
    app, base_archive, auth_registry: RunningRegistry, docker_config, tmp_path: Path
) -> None:
    host = auth_registry.host
    ref = f"registry://{host}/{PREFIX}/private:1"
    cache = tmp_path / "cache"

    anonymous = build(app, base_archive, ref, cache, docker_config())
    _one_line_error(anonymous, ref, host, f"docker login {host}", "BOXWISE_REGISTRY_USER")

    bad_password = {
        "BOXWISE_REGISTRY": host,
        "BOXWISE_REGISTRY_USER": USER,
        "BOXWISE_REGISTRY_PASSWORD": "not-" + PASSWORD,
    }
    wrong = build(app, base_archive, ref, cache, {**docker_config(), **bad_password})
    _one_line_error(wrong, ref, "refused the credentials from BOXWISE_REGISTRY_USER")
    assert PASSWORD not in wrong.stdout + wrong.stderr

    logged_in = docker_config({host: f"{USER}:{PASSWORD}"})
    result = build(app, base_archive, ref, cache, logged_in)
    assert result.returncode == 0, result.stdout + result.stderr
    assert pushed_line(result.stdout).group(1) == f"{host}/{PREFIX}/private:1"

    read = run_boxwise("inspect", ref, "--format", "json", env={**logged_in, "XDG_CACHE_HOME": str(cache)})
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)["layers"][-1]["layer_name"] == "app"
    from_ci = {"CI_REGISTRY": host, "CI_REGISTRY_USER": USER, "CI_REGISTRY_PASSWORD": PASSWORD}
    gate = run_boxwise("gate", ref, env={**docker_config(), **from_ci, "XDG_CACHE_HOME": str(cache)})
    assert gate.returncode == 0, gate.stdout + gate.stderr
    denied = run_boxwise("inspect", ref, env={**docker_config(), "XDG_CACHE_HOME": str(cache)})
    _one_line_error(denied, ref, f"docker login {host}")
    for run in (result, read, gate, denied):
        assert PASSWORD not in run.stdout + run.stderr


@pytest.mark.engine
def test_token_registry_push_and_read(
    app, base_archive, token_registry, docker_config, tmp_path: Path
) -> None:
    registry, tokens = token_registry
    host = registry.host
    ref = f"registry://{host}/{PREFIX}/tokened:1"
    cache = tmp_path / "cache"

    anonymous = build(app, base_archive, ref, cache, docker_config())
    _one_line_error(anonymous, ref, f"docker login {host}")
    assert tokens.seen and not any(granted for _, granted in tokens.seen)

    logged_in = docker_config({host: f"{USER}:{PASSWORD}"})
    result = build(app, base_archive, ref, cache, logged_in)
    assert result.returncode == 0, result.stdout + result.stderr
    digest = pushed_line(result.stdout).group(2)
    assert ([f"repository:{PREFIX}/tokened:pull,push"], True) in tokens.seen

    read = run_boxwise(
        "inspect", f"registry://{host}/{PREFIX}/tokened@{digest}", "--format", "json",
        env={**logged_in, "XDG_CACHE_HOME": str(tmp_path / "read-cache")},
    )  # fmt: skip
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout)["layers"][-1]["layer_name"] == "app"
    assert any(scopes == [f"repository:{PREFIX}/tokened:pull"] and granted for scopes, granted in tokens.seen)
    for run in (anonymous, result, read):
        assert PASSWORD not in run.stdout + run.stderr


@pytest.mark.engine
def test_an_index_gives_this_machines_platform(first_push, registry: RunningRegistry, tmp_path: Path) -> None:
    import platform

    import requests

    name, digest, _ = first_push
    repository = name.rpartition(":")[0]
    manifest = requests.get(
        f"http://{repository.replace('/', '/v2/', 1)}/manifests/{digest}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=30,
    )
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    other = "s390x" if arch != "s390x" else "amd64"
    entry = {"mediaType": manifest.headers["Content-Type"], "size": len(manifest.content)}
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {**entry, "digest": digest, "platform": {"os": "linux", "architecture": other}},  # listed first
            {**entry, "digest": digest, "platform": {"os": "linux", "architecture": arch}},
        ],
    }
    put = requests.put(
        f"http://{repository.replace('/', '/v2/', 1)}/manifests/multi",
        data=json.dumps(index).encode(),
        headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
        timeout=30,
    )
    assert put.status_code == 201, put.text
    env = {"XDG_CACHE_HOME": str(tmp_path), **no_credentials_env()}
    result = run_boxwise("inspect", f"registry://{repository}:multi", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)["resolved_as"]
    assert resolved == f"registry://{repository}@{digest} (linux/{arch} of 2 in its index)"


@pytest.mark.parametrize("how", ["helper", "https-key", "env"])
def test_other_credential_sources(
    how: str, auth_registry: RunningRegistry, docker_config, tmp_path: Path
) -> None:
    """Past the auth, an absent tag is MANIFEST_UNKNOWN; without credentials the registry refuses."""
    host = auth_registry.host
    ref = f"registry://{host}/{PREFIX}/private:absent"
    env = docker_config()
    if how == "helper":  # a credential helper, as `credHelpers` names it
        helper = tmp_path / "bin" / "docker-credential-boxwisetest"
        helper.parent.mkdir()
        answer = json.dumps({"ServerURL": host, "Username": USER, "Secret": PASSWORD})
        helper.write_text(f"#!/bin/sh\nread server\n[ \"$server\" = '{host}' ] && echo '{answer}'\n")
        helper.chmod(0o755)
        Path(env["DOCKER_CONFIG"], "config.json").write_text(
            json.dumps({"credHelpers": {host: "boxwisetest"}})
        )
        env["PATH"] = f"{helper.parent}:{os.environ['PATH']}"
    elif how == "https-key":  # `docker login https://host` keys auths by URL
        env = docker_config({f"https://{host}/v1/": f"{USER}:{PASSWORD}"})
    else:
        env.update(
            {"BOXWISE_REGISTRY": host, "BOXWISE_REGISTRY_USER": USER, "BOXWISE_REGISTRY_PASSWORD": PASSWORD}
        )
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    _one_line_error(run_boxwise("inspect", ref, env=env), ref, "MANIFEST_UNKNOWN")
    _one_line_error(run_boxwise("inspect", ref, env=docker_config()), ref, f"docker login {host}")


@pytest.mark.engine
def test_token_registry_without_push_access(
    app, base_archive, token_registry, docker_config, tmp_path: Path
) -> None:
    registry, _ = token_registry
    ref = f"registry://{registry.host}/{PREFIX}/readonly:1"
    logged_in = docker_config({registry.host: f"{USER}:{PASSWORD}"})
    result = build(app, base_archive, ref, tmp_path / "cache", logged_in)
    _one_line_error(result, ref, f"denies {USER} the right to push to {PREFIX}/readonly")
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.engine
def test_blobs_pushed_to_another_repository_are_mounted(
    app, base_archive, first_push, registry: RunningRegistry
) -> None:
    _, digest, cache = first_push
    copy = f"{registry.host}/{PREFIX}/hello-copy:1"
    result = build(app, base_archive, f"registry://{copy}", cache)
    assert result.returncode == 0, result.stdout + result.stderr
    line = pushed_line(result.stdout)
    # base, dependencies, runtime, app: four layers, each mounted from the first repository
    assert (line.group(2), line.group(3), line.group(4), line.group(5)) == (digest, "0", "4", "0")
    mounts = registry.requests("POST", f"/{PREFIX}/hello-copy/blobs/uploads/?mount=")
    assert len(mounts) == 4 and all(f"from={PREFIX}/hello" in request for request in mounts)
    assert not registry.requests("PUT", f"/{PREFIX}/hello-copy/blobs/")


@pytest.mark.engine
def test_a_refused_mount_uploads_in_the_session_it_opened(
    app, base_archive, first_push, registry: RunningRegistry, tmp_path: Path
) -> None:
    _, digest, cache = first_push
    record = next((cache / "boxwise" / "registry-blobs").glob("*.json"))
    ghost = {blob: f"{PREFIX}/ghost" for blob in json.loads(record.read_text())}  # a repo that has none
    fresh_cache = tmp_path / "cache"
    shutil.copytree(cache, fresh_cache)
    (fresh_cache / "boxwise" / "registry-blobs" / record.name).write_text(json.dumps(ghost))
    result = build(app, base_archive, f"registry://{registry.host}/{PREFIX}/hello-other:1", fresh_cache)
    assert result.returncode == 0, result.stdout + result.stderr
    line = pushed_line(result.stdout)
    assert (line.group(2), line.group(3), line.group(4)) == (digest, "4", "0")
    posts = registry.requests("POST", f"/{PREFIX}/hello-other/blobs/uploads/")
    assert len(posts) == 4 and all("mount=sha256:" in post for post in posts)  # no second POST
    assert len(registry.requests("PUT", f"/{PREFIX}/hello-other/blobs/uploads/")) == 4


@pytest.mark.engine
def test_https_registry_verified_with_requests_ca_bundle(
    app, base_archive, tls_registry, docker_config, tmp_path: Path
) -> None:
    registry, cert = tls_registry
    ref = f"registry://{registry.host}/{PREFIX}/tls:1"
    env = docker_config()
    unknown_ca = build(app, base_archive, ref, tmp_path / "cache", env)
    _one_line_error(unknown_ca, ref, "TLS certificate cannot be verified", "REQUESTS_CA_BUNDLE")
    trusted = {**env, "REQUESTS_CA_BUNDLE": str(cert)}
    result = build(app, base_archive, ref, tmp_path / "cache", trusted)
    assert result.returncode == 0, result.stdout + result.stderr
    assert pushed_line(result.stdout).group(1) == f"{registry.host}/{PREFIX}/tls:1"
    read = run_boxwise("inspect", ref, env={**trusted, "XDG_CACHE_HOME": str(tmp_path / "read")})
    assert read.returncode == 0, read.stderr


@pytest.mark.engine
def test_token_registry_with_an_identity_token(
    app, base_archive, token_registry, docker_config, tmp_path: Path
) -> None:
    registry, tokens = token_registry
    ref = f"registry://{registry.host}/{PREFIX}/identity:1"
    env = docker_config()
    config = {"auths": {registry.host: {"auth": "", "identitytoken": tokens.refresh_token}}}
    Path(env["DOCKER_CONFIG"], "config.json").write_text(json.dumps(config))
    result = build(app, base_archive, ref, tmp_path / "cache", env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ([f"repository:{PREFIX}/identity:pull,push"], True) in tokens.seen
    config["auths"][registry.host]["identitytoken"] = "refresh-expired"
    Path(env["DOCKER_CONFIG"], "config.json").write_text(json.dumps(config))
    refused = run_boxwise("inspect", ref, env={**env, "XDG_CACHE_HOME": str(tmp_path / "read")})
    _one_line_error(refused, ref, "refused the credentials from", "config.json")
    for run in (result, refused):
        assert tokens.refresh_token not in run.stdout + run.stderr
