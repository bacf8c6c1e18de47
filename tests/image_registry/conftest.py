"""Real registries for the registry:// tests: Debian's docker-registry on free loopback ports,
its access log kept in a file (to count blob downloads and uploads), with or without htpasswd auth.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.registry import PASSWORD, USER, RunningRegistry, no_credentials_env, start

from tests.image_registry.tokenserver import ISSUER, SERVICE, TokenServer, make_key


@pytest.fixture(scope="module")
def registry(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """An open registry (no auth) for the whole module; the engine pushes to it (127/8 is insecure)."""
    process, running = start(tmp_path_factory.mktemp("registry"))
    try:
        yield running
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A registry that wants Basic credentials (htpasswd, bcrypt line from apache2-utils)."""
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        pytest.fail("htpasswd is missing: install apache2-utils (scripts/setup.sh does)")
    root = tmp_path_factory.mktemp("auth-registry")
    line = subprocess.run(
        [htpasswd, "-Bbn", USER, PASSWORD], capture_output=True, text=True, check=True
    ).stdout
    (root / "htpasswd").write_text(line)
    auth = f"  htpasswd:\n    realm: boxwise-test\n    path: {root / 'htpasswd'}\n"
    process, running = start(root / "server", auth)
    try:
        yield running
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningRegistry, TokenServer]]:
    """A registry in `auth: token` mode (as Docker Hub, GitLab) with its token server."""
    root = tmp_path_factory.mktemp("token-registry")
    key, cert = make_key(root)
    with TokenServer(key, cert, USER, PASSWORD) as tokens:
        auth = (
            f"  token:\n    realm: {tokens.realm}\n    service: {SERVICE}\n"
            f"    issuer: {ISSUER}\n    rootcertbundle: {cert}\n"
        )
        process, running = start(root / "server", auth)
        try:
            yield running, tokens
        finally:
            process.terminate()
            process.wait(timeout=10)


def outside_address() -> str | None:
    """This machine's address on its network (not loopback: boxwise speaks https there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningRegistry, Path]]:
    """A registry over https on this machine's own address, with a self-signed certificate."""
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback, where boxwise uses http")
    root = tmp_path_factory.mktemp("tls-registry")
    key, cert = root / "tls.key", root / "tls.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", f"/CN={address}", "-addext", f"subjectAltName=IP:{address}"],
        check=True, capture_output=True,
    )  # fmt: skip
    process, running = start(
        root / "server", address=address, tls=f"    certificate: {cert}\n    key: {key}\n"
    )
    try:
        yield running, cert
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def docker_config(tmp_path: Path) -> Callable[[dict[str, str] | None], dict[str, str]]:
    """The environment of a CLI run: its own DOCKER_CONFIG, with `auths` {host: "user:password"}."""

    def make(auths: dict[str, str] | None = None) -> dict[str, str]:
        folder = tmp_path / f"docker-config-{len(list(tmp_path.glob('docker-config-*')))}"
        folder.mkdir()
        entries = {
            host: {"auth": base64.b64encode(user_password.encode()).decode()}
            for host, user_password in (auths or {}).items()
        }
        (folder / "config.json").write_text(json.dumps({"auths": entries}))
        return {"DOCKER_CONFIG": str(folder), **no_credentials_env()}

    return make
