"""What the smoke check saw when it started a new image's web process with PORT.

The value the check stage hands to the gate and the report (docs/design.md, the pipeline:
Image ──check──▶ Startup).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Startup:
    """One start of an image: did the web process answer HTTP on PORT, how fast, with what memory."""

    checked: bool  # False: the check did not run (`reason` says why: no engine, --no-check, ...)
    answered: bool = False  # an HTTP answer (any status) came back on PORT
    seconds: float | None = None  # from starting the container to the first answer
    status: int | None = None  # the first answer's HTTP status code
    memory_bytes: int | None = None  # memory in use just after the first answer (cgroup, less page cache)
    reason: str = ""  # why it was skipped or failed ("exited with code 1", "no answer within 30 s")
    log_tail: list[str] = field(default_factory=list)  # the process's last log lines when it failed

    def headline(self) -> str:
        """`starts in 1.4 s, answers 200, 52 MiB` or why not."""
        if not self.checked:
            return f"start not checked ({self.reason})"
        if not self.answered:
            return f"does not start: {self.reason}"
        parts = [f"starts in {self.seconds:.1f} s", f"answers {self.status}"]
        if self.memory_bytes is not None:
            parts.append(f"{self.memory_bytes / (1 << 20):.0f} MiB")
        return ", ".join(parts)

    def to_json(self) -> dict[str, object]:
        return {
            "checked": self.checked,
            "answered": self.answered,
            "seconds": self.seconds,
            "status": self.status,
            "memory_bytes": self.memory_bytes,
            "reason": self.reason,
            "log_tail": list(self.log_tail),
        }
