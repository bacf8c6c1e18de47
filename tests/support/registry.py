"""Real registries: Debian's docker-registry on free loopback ports, its access log kept in a file
(to count blob downloads and uploads), with or without auth or TLS."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PREFIX = "boxwise-test-registry"
USER = "boxwise-ci"
PASSWORD = "s3cret-Pa55-for-the-test"


@dataclass
class RunningRegistry:
    host: str  # 127.0.0.1:PORT
    log: Path
    data: Path

    def requests(self, method: str, pattern: str = "") -> list[str]:
        """The access-log request lines (`GET /v2/... HTTP/1.1`) of a method, matching `pattern`."""
        lines = re.findall(r'"([A-Z]+ /v2/\S* HTTP/[\d.]+)"', self.log.read_text())
        return [line for line in lines if line.startswith(method + " ") and pattern in line]


def start(
    root: Path, auth: str = "", address: str = "127.0.0.1", tls: str = ""
) -> tuple[subprocess.Popen[bytes], RunningRegistry]:
    """docker-registry on a free port; `auth` is the YAML under `auth:` (none: open), `tls` the
    YAML under `http: tls:` (none: plain http)."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        port = probe.getsockname()[1]
    root.mkdir(parents=True, exist_ok=True)
    config = root / "registry.yml"
    text = (
        "version: 0.1\nlog:\n  level: info\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: {address}:{port}\n"
    )
    if tls:
        text += f"  tls:\n{tls}"
    if auth:
        text += f"auth:\n{auth}"
    config.write_text(text)
    log = root / "access.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out, stderr=out)
    for _ in range(100):
        try:
            socket.create_connection((address, port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.terminate()
        pytest.fail(f"docker-registry did not start: {log.read_text()[-2000:]}")
    return process, RunningRegistry(f"{address}:{port}", log, root / "data")


@contextlib.contextmanager
def start_registry(folder: Path) -> Iterator[str]:
    """docker-registry serving from `folder` on a free loopback port, while the block runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'registry-data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    # its access log stays in the folder (registry.log): a test may count the requests it received
    with open(folder / "registry.log", "wb") as log:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("docker-registry did not start")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def no_credentials_env() -> dict[str, str]:
    """Credentials the machine running the tests may have, blanked for the child process."""
    keys = (
        "BOXWISE_REGISTRY",
        "BOXWISE_REGISTRY_USER",
        "BOXWISE_REGISTRY_PASSWORD",
        "CI_REGISTRY",
        "CI_REGISTRY_USER",
    )
    return {key: "" for key in (*keys, "CI_REGISTRY_PASSWORD")}
