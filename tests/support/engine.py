"""The engine the tests talk to directly: the one DOCKER_HOST names, as boxwise itself finds it."""

from __future__ import annotations

import os

from boxwise.image.engine import DEFAULT_SOCKET, SocketEngine


def socket_engine() -> SocketEngine:
    """The Engine API over the unix socket DOCKER_HOST names (default /var/run/docker.sock)."""
    host = os.environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        raise AssertionError(f"these tests read the engine's own files: DOCKER_HOST {host} is not local")
    return SocketEngine(host.removeprefix("unix://") or DEFAULT_SOCKET)
