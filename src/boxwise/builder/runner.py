"""Where the buildpacks run: a container of the build image, through the Docker SDK.

Files go in and out with put_archive/get_archive only (never bind mounts), so a remote engine
(`DOCKER_HOST=tcp://docker:2375`, GitLab's docker:dind) works the same as the local socket.
"""

from __future__ import annotations

import contextlib
import os
import secrets as random_tokens
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from boxwise.errors import UserError


class BuildRoot(Protocol):
    """Where the lifecycle runs: a build container, or a temporary root on this machine."""

    def path(self, container_path: str) -> str: ...
    def unmap(self, value: str) -> str: ...
    def put(self, tar: Path | bytes, dest: str = "/") -> None: ...
    def get(self, path: str, dest: Path, limit: int | None = None) -> None: ...
    def read_file(self, path: str) -> bytes: ...
    def exec(self, command: list[str], env: dict[str, str], on_line: Callable[[str], None]) -> int: ...


def _no_engine(reason: str) -> UserError:
    where = os.environ.get("DOCKER_HOST") or "the local socket /var/run/docker.sock"
    return UserError(
        f"no Docker engine answers at {where} ({reason}); start one (bash scripts/engine.sh) "
        "or set DOCKER_HOST"
    )


def _sdk_client() -> Any:
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise _no_engine(str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__) from None
    return client


class EngineClient:
    """The engine for a build: the Docker SDK client, made on first use (importing the SDK costs
    ~0.2 s, most of a warm rebuild), and for the local socket a standard-library side (`socket`)
    for the calls a fast rebuild makes: inspect, info, load. Any other attribute is the SDK's."""

    socket: Any = None
    _sdk: Any = None

    def __init__(self, socket_engine: Any = None) -> None:
        self.socket = socket_engine
        if socket_engine is None:
            self._sdk = _sdk_client()

    @property
    def sdk(self) -> Any:
        if self._sdk is None:
            self._sdk = _sdk_client()
        return self._sdk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sdk, name)

    def close(self) -> None:
        if self._sdk is not None:
            self._sdk.close()


def connect() -> EngineClient:
    """The engine of DOCKER_HOST (or the local socket), or one clear error."""
    from boxwise.image.engine import DEFAULT_SOCKET, SocketEngine

    host = os.environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        return EngineClient()
    engine = SocketEngine(host.removeprefix("unix://") or DEFAULT_SOCKET)
    try:
        engine.ping()
    except UserError as exc:
        raise _no_engine(str(exc).partition("(")[2].rpartition(")")[0] or "no answer") from None
    return EngineClient(engine)


@contextlib.contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """An engine that fails or goes away mid-build is one line, not a traceback; the cache is intact."""
    try:
        yield
    except Exception as exc:
        docker_errors = sys.modules.get("docker.errors")  # not imported: no SDK call made, none failed
        if docker_errors is None:
            raise
        import requests.exceptions

        if isinstance(exc, docker_errors.APIError):
            raise UserError(
                f"the engine refused {what} ({exc.explanation or exc}); the cache is intact, build again"
            ) from None
        if isinstance(exc, (requests.exceptions.ConnectionError, docker_errors.DockerException)):
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise UserError(
                f"the engine went away during {what} ({reason}); the cache is intact, "
                "start it and build again"
            ) from None
        raise


def thin_archives_work(client: Any) -> bool:
    """Whether `docker load` may skip layers the engine has (classic store, not containerd's)."""
    side = getattr(client, "socket", None)
    info = side.info() if side is not None else client.info()
    status = " ".join(str(item) for pair in info.get("DriverStatus") or [] for item in pair)
    return "containerd.snapshotter" not in status and info.get("Driver") != "overlayfs"


class BuildContainer:
    """One container of the build image, alive while the lifecycle execs in it.

    Its main process reads its stdin until the end, and boxwise holds that stdin (an attached
    socket, `stdin_once`): when boxwise exits in any way, `kill -9` included, the socket closes,
    the engine ends the container's stdin, the loop ends and the engine removes the container
    (`auto_remove`). No container is left running a sleep loop.
    """

    def __init__(self, client: Any, image: str, network: str, name_hint: str) -> None:
        self.client = client
        self.image = image
        self.network = network
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name_hint)[:40] or "app"
        self.name = f"boxwise-build-{safe}-{random_tokens.token_hex(4)}"
        self.container: Any = None
        self._lifeline: Any = None  # the attached stdin: the container lives as long as it is open

    def __enter__(self) -> BuildContainer:
        import docker.errors

        try:
            api = self.client.api
            config = api.create_container_config(
                self.image,
                command=[],
                # `read` is a shell builtin: no tool of the build image is needed
                entrypoint=["/bin/sh", "-c", "while read -r _; do :; done"],
                user="0",
                working_dir="/",
                stdin_open=True,
                labels={"boxwise.build": "1"},
                host_config=api.create_host_config(network_mode=self.network, auto_remove=True),
            )
            config["StdinOnce"] = True  # the SDK always sends False; the API takes it
            created = api.create_container_from_config(config, name=self.name)
            self.container = self.client.containers.get(created["Id"])
            self._lifeline = self.client.api.attach_socket(
                self.container.id, params={"stdin": 1, "stream": 1}
            )
            self.container.start()
        except docker.errors.APIError as exc:
            self.close()
            raise UserError(
                f"--builder {self.image}: cannot start a build container ({exc.explanation or exc}); "
                "the build image needs /bin/sh and python3 (and --network must exist on the engine)"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._lifeline is not None:
            with contextlib.suppress(Exception):
                self._lifeline.close()
            self._lifeline = None
        if self.container is not None:
            # The engine may be gone already (that may be why we are here).
            with contextlib.suppress(Exception):
                self.container.remove(force=True)
            self.container = None

    def path(self, container_path: str) -> str:
        """Where a container path is, as the lifecycle inside sees it: the path itself."""
        return container_path

    def unmap(self, value: str) -> str:
        return value

    def put(self, tar: Path | bytes, dest: str = "/") -> None:
        if isinstance(tar, Path):
            with open(tar, "rb") as data:
                ok = self.container.put_archive(dest, data)
        else:
            ok = self.container.put_archive(dest, tar)
        if not ok:
            raise UserError(f"the engine refused to copy files into {self.name}:{dest}; build again")

    def get(self, path: str, dest: Path, limit: int | None = None) -> None:
        """The folder or file at `path` as the engine's tar stream, written to `dest`; a stream
        longer than `limit` bytes is cut off with one line."""
        stream, _ = self.container.get_archive(path, chunk_size=1 << 20)
        written = 0
        with open(dest, "wb") as out:
            for chunk in stream:
                written += len(chunk)
                if limit is not None and written > limit:
                    raise UserError(f"{path} in the build is larger than {limit >> 20} MiB; it is not read")
                out.write(chunk)

    def read_file(self, path: str) -> bytes:
        import io
        import tarfile

        stream, _ = self.container.get_archive(path)
        data = b"".join(stream)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = next(m for m in tar.getmembers() if m.isreg())
            handle = tar.extractfile(member)
            return handle.read() if handle else b""

    def exec(self, command: list[str], env: dict[str, str], on_line: Callable[[str], None]) -> int:
        api = self.client.api
        exec_id = api.exec_create(self.container.id, command, environment=env, workdir="/workspace", user="0")
        for line in _lines(api.exec_start(exec_id, stream=True)):
            on_line(line)
        return int(api.exec_inspect(exec_id).get("ExitCode") or 0)


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield line.decode("utf-8", "replace").rstrip("\r")
    if pending:
        yield pending.decode("utf-8", "replace")
