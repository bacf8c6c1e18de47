"""What a registry:// reference names: the host (Docker Hub's when none), repository, tag or
digest, and whether boxwise speaks http (loopback, as the engine's insecure default) or https."""

from __future__ import annotations

import pytest

from boxwise.errors import UserError
from boxwise.image.registry import parse_ref

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "host", "repository", "reference", "scheme"),
    [
        ("127.0.0.1:5000/shop/app:1.2", "127.0.0.1:5000", "shop/app", "1.2", "http"),
        ("localhost:5000/app", "localhost:5000", "app", "latest", "http"),
        ("127.1.2.3:80/app", "127.1.2.3:80", "app", "latest", "http"),
        ("[::1]:5000/app:x", "[::1]:5000", "app", "x", "http"),
        ("registry.gitlab.com/group/sub/app:main", "registry.gitlab.com", "group/sub/app", "main", "https"),
        (f"ghcr.io/o/app:1@{DIGEST}", "ghcr.io", "o/app", DIGEST, "https"),
        ("192.0.2.2:5000/app", "192.0.2.2:5000", "app", "latest", "https"),
        ("alpine:3.20", "registry-1.docker.io", "library/alpine", "3.20", "https"),
        ("docker.io/library/alpine", "registry-1.docker.io", "library/alpine", "latest", "https"),
        ("docker.io/alpine", "registry-1.docker.io", "library/alpine", "latest", "https"),
        ("someone/tool", "registry-1.docker.io", "someone/tool", "latest", "https"),
    ],
)
def test_references(text: str, host: str, repository: str, reference: str, scheme: str) -> None:
    ref = parse_ref(text)
    assert (ref.host, ref.repository, ref.reference, ref.scheme) == (host, repository, reference, scheme)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("127.0.0.1:5000/Shop/App:1", "not a registry reference"),
        ("127.0.0.1:5000/app:bad tag", "not a registry reference"),
        ("127.0.0.1:5000/app@sha256:short", "is not a sha256:<64 hex> digest"),
    ],
)
def test_bad_references(text: str, says: str) -> None:
    with pytest.raises(UserError, match=says):
        parse_ref(text)


def test_build_refuses_a_bad_output_reference_before_building(tmp_path) -> None:
    from support.cli import run_boxwise

    (tmp_path / "Procfile").write_text("web: python3 -V\n")
    result = run_boxwise(
        "build", str(tmp_path), "--runner", "local", "--output", "registry://127.0.0.1:5000/Shop/App:1",
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "boxwise: error: registry://127.0.0.1:5000/Shop/App:1: not a registry reference;"
        " write registry://HOST[:PORT]/REPO[:TAG]"
        " (REPO in lowercase; TAG of letters, digits, '.', '_' and '-')"
    )
    assert "layer app" not in result.stdout  # nothing was built
