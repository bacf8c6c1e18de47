"""Bounded network reads: the one rule both HTTP clients (registry, comment API) follow.

An answer comes from a host the merge request may have chosen. Every read has an idle timeout
(the socket's read timeout: the longest silence) and an overall deadline (a host that sends one
byte every 20 s never hits the idle timeout), and a body has a size cap (a 200 MB manifest, an
endless blob). `BOXWISE_NET_DEADLINE` (seconds, default 300) is the longest one answer may take;
a layer blob gets that plus a second per MiB its descriptor declares.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from boxwise.envnum import positive_float
from boxwise.errors import UserError

IDLE_SECONDS = 60.0  # the longest silence while an answer is read
DEFAULT_DEADLINE = 300.0
# containerd's cap for manifests and configs (and the most any JSON answer boxwise reads needs)
DOCUMENT_LIMIT = 4 << 20
ERROR_BODY_LIMIT = 64 << 10
PIECE = 1 << 16


def deadline_seconds() -> float:
    return positive_float("BOXWISE_NET_DEADLINE", DEFAULT_DEADLINE)


class Deadline:
    """An overall deadline for one answer; `check` raises the caller's error once it is past."""

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = deadline_seconds() if seconds is None else seconds
        self.end = time.monotonic() + self.seconds

    def passed(self) -> bool:
        return time.monotonic() > self.end


def read_body(
    read: Callable[[int], bytes], limit: int, deadline: Deadline, fail: Callable[[str], Exception]
) -> bytes:
    """All of a body from `read(n)` (b"" at its end), at most `limit` bytes, before the deadline.

    `fail(why)` makes the caller's one-line error (UserError, PostError) from a reason.
    """
    parts: list[bytes] = []
    total = 0
    while True:
        if deadline.passed():
            raise fail(f"the answer took longer than {deadline.seconds:g} s (BOXWISE_NET_DEADLINE)")
        piece = read(PIECE)
        if not piece:
            return b"".join(parts)
        total += len(piece)
        if total > limit:
            raise fail(f"the answer is larger than {limit >> 10} KiB")
        parts.append(piece)


def some(raw: Any, size: int, decode: bool) -> bytes:
    """What a urllib3 response has now, up to `size` bytes (b"" at its end): `read1`, so a
    trickling host cannot hold one call until `size` bytes came (then the deadline is checked)."""
    read1 = getattr(raw, "read1", None)
    if read1 is not None:
        return read1(size, decode_content=decode) or b""
    return raw.read(size, decode_content=decode) or b""  # urllib3 < 2.3


def response_body(response: Any, limit: int, fail: Callable[[str], Exception]) -> bytes:
    """The body of a streamed `requests` response, bounded (see `read_body`); closed after."""
    from urllib3.exceptions import HTTPError

    deadline = Deadline()

    def read(size: int) -> bytes:
        try:
            return some(response.raw, size, True)
        except (HTTPError, OSError) as exc:
            raise fail(f"the answer broke off ({type(exc).__name__})") from None

    try:
        return read_body(read, limit, deadline, fail)
    finally:
        response.close()


def user_error(what: str) -> Callable[[str], Exception]:
    return lambda why: UserError(f"{what}: {why}")
