"""Build-time secrets reach the build (pip uses them) and never the image; a leak fails the build."""

from __future__ import annotations

import base64
import http.server
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.serving import serving_thread

from .helpers import PREFIX, WEB_APP, archive_files, build, build_ok, save, write_app

pytestmark = pytest.mark.engine

TOKEN = "boxwise-index-t0ken-4f9a"
NETRC_PASSWORD = "boxwise-netrc-pa55-77c1"
SYSTEM_CA = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture
def private_index() -> Iterator[tuple[str, list[str]]]:
    """A local package index that knows no package and records the credentials pip sends it."""
    seen: list[str] = []

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    serving_thread(server).start()
    try:
        yield f"http://ci-user:{TOKEN}@127.0.0.1:{server.server_address[1]}/simple", seen
    finally:
        server.shutdown()


def test_ca_netrc_and_index_credentials_are_used_by_the_build_and_absent_from_the_image(
    base_image: str, docker_client, tmp_path: Path, private_index: tuple[str, list[str]]
) -> None:
    index_url, seen = private_index
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine pypi.example.invalid login bob password {NETRC_PASSWORD}\n")
    app = write_app(
        tmp_path / "secret-app",
        {"requirements.txt": "six==1.16.0\n", "Procfile": "web: python3 app.py six\n", "app.py": WEB_APP},
    )
    tag = f"{PREFIX}/secret-app:1"
    env = {"PIP_EXTRA_INDEX_URL": index_url, "NETRC": str(netrc)}
    out = build_ok(app, tag, tmp_path / "cache", "--ca-cert", str(SYSTEM_CA), env=env)
    assert "build secrets: CA bundle, netrc, PIP_EXTRA_INDEX_URL" in out
    expected = "Basic " + base64.b64encode(f"ci-user:{TOKEN}".encode()).decode()
    assert expected in seen  # pip in the build container used the index credentials
    assert TOKEN not in out  # and the build log never shows the token

    archive = save(docker_client, tag, tmp_path / "secret-app.tar")
    layers = archive_files(archive)
    base_layers = len(docker_client.images.get(base_image).attrs["RootFS"]["Layers"])
    ca_bytes, netrc_bytes = SYSTEM_CA.read_bytes(), netrc.read_bytes()
    for name in list(layers)[base_layers:]:  # the layers boxwise wrote
        for path, content in layers[name].items():
            assert content != ca_bytes, path
            assert content != netrc_bytes, path
            assert TOKEN.encode() not in content and NETRC_PASSWORD.encode() not in content, path
    config = docker_client.images.get(tag).attrs["Config"]
    flat = repr(config)
    for secret in (TOKEN, NETRC_PASSWORD, "boxwise-secrets", "PIP_EXTRA_INDEX_URL", "NETRC", "PIP_CERT"):
        assert secret not in flat


def test_an_app_file_holding_the_index_token_fails_the_build(
    base_image: str, docker_client, tmp_path: Path, private_index: tuple[str, list[str]]
) -> None:
    index_url, _ = private_index
    app = write_app(
        tmp_path / "leaky-app",
        {
            "Procfile": "web: python3 app.py\n",
            "app.py": WEB_APP,
            "settings.ini": f"[pip]\nindex = {index_url}\n",
        },
    )
    tag = f"{PREFIX}/leaky-app:1"
    result = build(app, tag, tmp_path / "cache", env={"PIP_EXTRA_INDEX_URL": index_url})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "build secret in the image" in result.stderr
    assert "/workspace/settings.ini contains a credential in PIP_EXTRA_INDEX_URL" in result.stderr
    assert TOKEN not in result.stderr + result.stdout
    assert not docker_client.images.list(name=tag)  # nothing was written


def test_an_app_holding_a_copy_of_the_private_ca_fails_the_build(base_image: str, tmp_path: Path) -> None:
    one_cert = re.search(
        r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", SYSTEM_CA.read_text(), re.S
    ).group(0)
    ca = tmp_path / "corp-ca.pem"
    ca.write_text(one_cert)
    app = write_app(
        tmp_path / "ca-copy",
        {"Procfile": "web: python3 app.py\n", "app.py": WEB_APP, "certs/bundle.pem": "# corp\n" + one_cert},
    )
    result = build(app, f"{PREFIX}/ca-copy:1", tmp_path / "cache", "--ca-cert", str(ca))
    assert result.returncode == 2
    assert "/workspace/certs/bundle.pem contains a CA certificate" in result.stderr
