"""One call made in a forked child while this process goes on: the second core of a CI runner.

A cold `inspect` is Python work that the GIL runs one piece after the other: the tar headers of
every layer, then two accountings of the same indexes. A forked child takes a share (layers to
read, image._split_read; dive's accounting, analyze.efficiency.measure) with everything it
needs already in its memory, copy-on-write, and sends back only its answer, marshalled: the
result must be plain values (lists, tuples, dicts, strings, numbers).

Forked only where that is safe: a POSIX system and no other thread running (a fork copies the
calling thread alone, and a lock another thread held would stay held in the child forever).
Anything going wrong in the child (an exception, a kill, an answer that does not load) makes
`result()` make the call here instead: never a different answer, only a slower one.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ForkedCall(Generic[T]):
    """`fn(*args)` started in a child process at once; `result()` waits for it."""

    def __init__(self, fn: Callable[..., T], *args: object) -> None:
        self._fn, self._args = fn, args
        self._pid: int | None = None
        self._fd = -1
        if not hasattr(os, "fork") or threading.active_count() > 1:
            return
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:  # no memory or process left for a child: the call runs here instead
            os.close(read_end)
            os.close(write_end)
            return
        if pid == 0:  # pragma: no cover - the child; its result is what the parent checks
            _child(write_end, read_end, fn, args)
        os.close(write_end)
        self._pid, self._fd = pid, read_end

    def result(self) -> T:
        if self._pid is not None:
            pid, self._pid = self._pid, None
            with os.fdopen(self._fd, "rb") as answer:
                data = answer.read()
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) == 0:
                with contextlib.suppress(ValueError, EOFError, TypeError):
                    value: T = marshal.loads(data)
                    return value
        return self._fn(*self._args)


def _child(write_end: int, read_end: int, fn: Callable[..., Any], args: tuple[object, ...]) -> None:
    """Make the call, send its result, and leave at once: no atexit handler, no buffered output
    of the parent flushed twice, no cache file written by both."""
    code = 1
    try:
        os.close(read_end)
        data = marshal.dumps(fn(*args))
        with os.fdopen(write_end, "wb") as out:
            out.write(data)
        code = 0
    finally:
        os._exit(code)
