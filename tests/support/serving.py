"""The tests' HTTP servers, each served from a background thread."""

from __future__ import annotations

import threading
from socketserver import BaseServer

# serve_forever checks for shutdown() every poll_interval: the default 0.5 s made every test that
# stops a server wait up to half a second (about 20 s of a quick run); 20 ms costs no CPU to speak of.
POLL_SECONDS = 0.02


def serving_thread(server: BaseServer) -> threading.Thread:
    """A daemon thread (not started) that serves `server` until its shutdown()."""
    return threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), daemon=True)
