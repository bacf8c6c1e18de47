"""The build log: every line kept for the result, printed as it comes, secrets masked.

A status line (rich's spinner on a terminal) says which long step is running.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any


class BuildLog:
    def __init__(self, quiet: bool = False, masks: list[bytes] | None = None, app_dir: str = "") -> None:
        self.lines: list[str] = []
        self.app_dir = app_dir
        self.quiet = quiet
        self.masks = [m.decode("utf-8", "replace") for m in masks or [] if len(m) >= 6]
        self._status: Any = None
        self._console: Any = None
        if not quiet and sys.stdout.isatty():  # rich for a person; a plain log needs no rich (~0.1 s)
            from rich.console import Console

            self._console = Console(file=sys.stdout, highlight=False, soft_wrap=True)

    def _mask(self, text: str) -> str:
        for secret in self.masks:
            text = text.replace(secret, "****")
        return text

    def say(self, text: str) -> None:
        text = self._mask(text)
        self.lines.append(text)
        if self._console is not None:
            self._console.print(text, markup=False)
        elif not self.quiet:
            print(text, flush=True)

    def status(self, text: str) -> None:
        if self._status is not None:
            self._status.update(text)

    @contextlib.contextmanager
    def progress(self, text: str) -> Iterator[None]:
        """A spinner with `text` while the block runs (only on a terminal; plain logs stay plain)."""
        if self._console is None or not self._console.is_terminal:
            yield
            return
        with self._console.status(text) as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None
