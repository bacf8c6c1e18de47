"""Pure-Python work on a second core: a forked child computes, the parent goes on meanwhile.

Reading an image's tar headers and measuring its waste are CPU-bound Python, which threads cannot
share out (the GIL). A child forked from this process starts with everything already imported and
every input already in memory (copy-on-write), so handing it half the work costs a few
milliseconds. It sends its result back pickled through a pipe (between two processes of this
program only; nothing outside ever writes to it) and leaves with os._exit, never running the
parent's exit handlers or flushing its buffers.

The child is only a speed-up, never a second source of truth: when it cannot be used (one core,
no fork, other threads running — forking them is unsafe — or BOXWISE_FORK=0) or when it fails in
any way, `Forked.result()` returns None and the caller does the work itself, so errors are raised
in the parent exactly as without it.
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    return (
        hasattr(os, "fork")
        and (os.cpu_count() or 1) > 1
        and threading.active_count() == 1
        and os.environ.get("BOXWISE_FORK", "1") != "0"
    )


class Forked(Generic[T]):
    """`work()` running in a child process; `result()` waits for it (None: do it yourself)."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._pid = 0
        self._read = -1
        if not can_fork():
            return
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, leave without touching the parent's state
            code = 1
            try:
                os.close(read)
                with os.fdopen(write, "wb") as out:
                    pickle.dump(work(), out, protocol=pickle.HIGHEST_PROTOCOL)
                code = 0
            except BaseException:
                pass
            finally:
                os._exit(code)
        os.close(write)
        self._pid, self._read = pid, read

    def result(self) -> T | None:
        if not self._pid:
            return None
        try:
            with os.fdopen(self._read, "rb") as pipe:
                data = pipe.read()
        finally:
            _, status = os.waitpid(self._pid, 0)
            self._pid = 0
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        try:
            value: T = pickle.loads(data)
        except Exception:
            return None
        return value
