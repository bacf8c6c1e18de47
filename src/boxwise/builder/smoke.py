"""The smoke check: start the new image as a platform would and see whether its web process answers.

The container runs the image's default process with `PORT` set (host networking, as this engine
and Cloud Run-style platforms give the process the port to listen on), and boxwise polls
`http://127.0.0.1:PORT<path>` until an HTTP answer comes back — any status counts as an answer and
is recorded — or the process exits, or the timeout passes. The figures: seconds from starting the
container to the first answer, the first status code, and memory in use just after (cgroup usage
less page cache, as `docker stats` shows it).
"""

from __future__ import annotations

import contextlib
import http.client
import secrets
import socket
import time
from typing import Any

from boxwise.startup import Startup

DEFAULT_TIMEOUT = 30.0
LOG_LINES = 20
_POLL = 0.1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answer(port: int, path: str) -> int | None:
    """The HTTP status of one GET, or None when nothing answers (yet)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path, headers={"User-Agent": "boxwise-smoke-check"})
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _memory(container: Any) -> int | None:
    with contextlib.suppress(Exception):
        stats = container.stats(stream=False)
        memory = stats.get("memory_stats") or {}
        usage = int(memory.get("usage") or 0)
        detail = memory.get("stats") or {}
        cache = int(
            detail.get("inactive_file", detail.get("total_inactive_file", detail.get("cache", 0))) or 0
        )
        if usage:
            return max(usage - cache, 0)
    return None


def _tail(container: Any) -> list[str]:
    with contextlib.suppress(Exception):
        text = container.logs(tail=LOG_LINES).decode("utf-8", "replace")
        return [line[:300] for line in text.splitlines()[-LOG_LINES:]]
    return []


# Run inside the container (every image boxwise builds has python3): the TCP ports its processes
# listen on. With host networking /proc/net/tcp lists the whole host's sockets, so a socket counts
# only when one of the container's own processes (its PID namespace: /proc) holds it open.
_LISTENING = r"""
import os, re
mine = set()
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{fd}"))
            if m:
                mine.add(m.group(1))
    except OSError:
        pass
ports = set()
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        f = row.split()
        if len(f) > 9 and f[3] == "0A" and f[9] in mine:
            ports.add(int(f[1].rsplit(":", 1)[1], 16))
print(" ".join(map(str, sorted(ports))))
"""


def _listening_hint(container: Any, port: int) -> str:
    """What to change when the process listens elsewhere: `; it listens on 8085, not on PORT: …`."""
    with contextlib.suppress(Exception):
        # as the image's own user: reading another user's /proc/PID/fd needs CAP_SYS_PTRACE
        done = container.exec_run(["python3", "-c", _LISTENING])
        found = [int(p) for p in done.output.decode().split()[:8]] if done.exit_code == 0 else None
        if found and port not in found:
            ports = ", ".join(map(str, found))
            return (
                f"; it listens on {ports}, not on PORT: bind to 0.0.0.0:$PORT (gunicorn --bind 0.0.0.0:$PORT)"
            )
        if found == []:
            return "; it listens on no TCP port: bind to 0.0.0.0:$PORT"
    return " (listen on 0.0.0.0:$PORT)"


def check_image(client: Any, image: str, *, timeout: float = DEFAULT_TIMEOUT, path: str = "/") -> Startup:
    """Start `image` with PORT and wait for an HTTP answer; the container is removed afterwards."""
    port = _free_port()
    name = f"boxwise-check-{secrets.token_hex(4)}"
    container = client.containers.create(
        image,
        name=name,
        detach=True,
        network_mode="host",
        environment={"PORT": str(port)},
        labels={"boxwise.check": "1"},
    )
    try:
        started = time.monotonic()
        try:
            container.start()
        except Exception as exc:  # the engine cannot even start the process (no such executable...)
            why = getattr(exc, "explanation", None) or str(exc)
            return Startup(True, False, reason=f"the web process cannot start ({str(why)[:300]})")
        deadline = started + timeout
        while True:
            status = _answer(port, path)
            if status is not None:
                seconds = time.monotonic() - started
                memory = _memory(container)
                return Startup(
                    True,
                    True,
                    round(seconds, 2),
                    status,
                    memory,
                    log_tail=[] if status < 500 else _tail(container),
                )
            container.reload()
            if container.status in ("exited", "dead"):
                code = container.attrs.get("State", {}).get("ExitCode")
                return Startup(
                    True,
                    False,
                    reason=f"the web process exited with code {code} before answering on PORT",
                    log_tail=_tail(container),
                )
            if time.monotonic() > deadline:
                return Startup(
                    True,
                    False,
                    reason=f"no HTTP answer on PORT={port} within {timeout:g} s"
                    + _listening_hint(container, port),
                    log_tail=_tail(container),
                )
            time.sleep(_POLL)
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)
