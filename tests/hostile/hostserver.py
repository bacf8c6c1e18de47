"""An attacker's HTTP host on a loopback address: it records every request (headers included) and
answers with whatever the test scripts, including answers that trickle or never end.

Only loopback addresses are used: 127.0.0.1 plays the host boxwise was given, 127.0.0.2 "another
host". A handler returns an `Answer`; `Answer.chunks` may be a generator (slow, endless bodies).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support.serving import serving_thread


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Iterable[bytes] | None = None  # sent as they come, without a Content-Length


Script = Callable[[Seen], Answer]


class HostServer:
    def __init__(self, address: str, script: Script) -> None:
        self.script = script
        self.seen: list[Seen] = []
        self.server = ThreadingHTTPServer((address, 0), self._handler())
        self.server.daemon_threads = True
        self.thread = serving_thread(self.server)

    @property
    def host(self) -> str:
        address, port = self.server.server_address[:2]
        return f"{address}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def authorizations(self) -> list[str]:
        return [s.headers["authorization"] for s in self.seen if "authorization" in s.headers]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # a body written apart from its headers goes out at once

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                owner.seen.append(seen)
                answer = owner.script(seen)
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                if answer.chunks is None:
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(answer.body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    for chunk in answer.chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except OSError:
                    pass  # the client gave up: what a bounded reader should do

            do_GET = do_POST = do_PUT = do_HEAD = do_PATCH = do_DELETE = _any

        return Handler

    def __enter__(self) -> HostServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def serving(address: str, script: Script) -> HostServer:
    return HostServer(address, script)


def forever(piece: bytes = b"\0" * 65536, pause: float = 0.0) -> Iterator[bytes]:
    """An endless body (with `pause`: one that trickles)."""
    import time

    while True:
        if pause:
            time.sleep(pause)
        yield piece
