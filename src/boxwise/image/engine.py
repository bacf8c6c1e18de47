"""The few Engine API calls the image reader makes: ping, inspect, history, info, save (streamed).

Two ways to make them. For the local socket (no DOCKER_HOST, or a `unix://` one) a plain HTTP
request over the socket with the standard library: importing the Docker SDK costs ~120 ms and
~17 MiB, which would be most of a warm `boxwise inspect docker://…`. For anything else (tcp://,
TLS, ssh://) the Docker SDK, which knows those transports.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from boxwise.errors import UserError

DEFAULT_SOCKET = "/var/run/docker.sock"
CHUNK = 1 << 18  # 256 KiB: enough per read, little held at once


class NoSuchImage(Exception):
    pass


def _host() -> str:
    return os.environ.get("DOCKER_HOST") or "the local socket"


def _no_engine(reason: str) -> UserError:
    return UserError(f"no Docker engine answers at {_host()} ({reason[:200]}); start one or set DOCKER_HOST")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._socket_path)


class SocketEngine:
    """The Engine API over a local unix socket, standard library only."""

    def __init__(self, path: str, timeout: float = 600) -> None:
        self.path = path
        self.timeout = timeout

    def _get(self, url: str) -> http.client.HTTPResponse:
        connection = _UnixConnection(self.path, self.timeout)
        try:
            connection.request("GET", url, headers={"Host": "docker"})
            return connection.getresponse()
        except OSError as exc:
            connection.close()
            raise _no_engine(exc.strerror or str(exc)) from None

    def _json(self, url: str, name: str) -> Any:
        response = self._get(url)
        try:
            body = response.read()
        finally:
            response.close()
        if response.status == 404:
            raise NoSuchImage(name)
        if response.status >= 400:
            raise UserError(f"{name}: the engine answered {response.status}: {_message(body)}")
        return json.loads(body)

    def ping(self) -> None:
        response = self._get("/_ping")
        response.read()
        response.close()

    def inspect(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._json(f"/images/{quote(name, safe='/:@')}/json", name)
        return found

    def history(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._json(f"/images/{quote(name, safe='/:@')}/history", name)
        return found

    def info(self) -> dict[str, Any]:
        """`docker info`: where the engine keeps its data (DockerRootDir) and its storage Driver."""
        found: dict[str, Any] = self._json("/info", "the engine")
        return found

    def save(self, name: str) -> Iterator[bytes]:
        response = self._get(f"/images/{quote(name, safe='/:@')}/get")
        if response.status >= 400:
            body = response.read()
            response.close()
            raise UserError(f"{name}: the engine cannot save it: {_message(body)}")

        def chunks() -> Iterator[bytes]:
            try:
                while True:
                    data = response.read(CHUNK)
                    if not data:
                        return
                    yield data
            finally:
                response.close()

        return chunks()

    def load(self, archive: Path) -> None:
        """`docker load` of the archive; the engine's error raises RuntimeError, as the SDK's does."""
        connection = _UnixConnection(self.path, self.timeout)
        connection.blocksize = 1 << 20  # the body goes out in MiB blocks, not http.client's 8 KiB
        headers = {
            "Host": "docker",
            "Content-Type": "application/x-tar",
            "Content-Length": str(archive.stat().st_size),
        }
        try:
            with open(archive, "rb") as body:
                connection.request("POST", "/images/load?quiet=1", body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read(1 << 20)
        except OSError as exc:
            raise _no_engine(exc.strerror or str(exc)) from None
        finally:
            connection.close()
        if response.status >= 400:
            raise RuntimeError(_message(answer))
        for line in answer.splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("errorDetail"):
                raise RuntimeError(str(message["errorDetail"].get("message") or message)[:300])

    def close(self) -> None:
        pass


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", ""))[:200]
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")


class SdkEngine:
    """The same calls through the Docker SDK (tcp://, TLS, ssh:// engines)."""

    def __init__(self) -> None:
        import docker
        from docker.errors import DockerException

        try:
            self.client = docker.from_env(timeout=600)
        except DockerException as exc:
            raise _no_engine(str(exc).split("\n", 1)[0]) from None

    def _call(self, name: str, method: str, *args: Any) -> Any:
        from docker.errors import APIError, DockerException, ImageNotFound

        try:
            return getattr(self.client.api, method)(*args)
        except ImageNotFound:
            raise NoSuchImage(name) from None
        except APIError as exc:
            raise UserError(f"{name}: the engine refused it ({exc.explanation})") from None
        except DockerException as exc:
            raise _no_engine(str(exc).split("\n", 1)[0]) from None

    def ping(self) -> None:
        self._call("", "ping")

    def inspect(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call(name, "inspect_image", name)
        return found

    def history(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call(name, "history", name)
        return found

    def save(self, name: str) -> Iterator[bytes]:
        return iter(self._call(name, "get_image", name, CHUNK))

    def close(self) -> None:
        self.client.close()


def connect() -> SocketEngine | SdkEngine:
    host = os.environ.get("DOCKER_HOST", "")
    if not host or host.startswith("unix://"):
        engine: SocketEngine | SdkEngine = SocketEngine(host.removeprefix("unix://") or DEFAULT_SOCKET)
    else:
        engine = SdkEngine()
    engine.ping()
    return engine
