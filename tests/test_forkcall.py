"""forkcall: a call made in a forked child gives the answer the call gives here, or is made here."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from boxwise.analyze import efficiency
from boxwise.forkcall import ForkedCall
from boxwise.image.model import Entry

SRC = Path(__file__).resolve().parents[1] / "src"


def _pid_and(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def test_the_call_runs_in_a_child_and_its_result_comes_back() -> None:
    pid, doubled = ForkedCall(_pid_and, 21).result()
    assert doubled == 42
    assert pid != os.getpid()


def _fails_in_a_child(parent: int) -> tuple[int, str]:
    if os.getpid() != parent:
        raise RuntimeError("only in the child")
    return os.getpid(), "made here"


def _killed_in_a_child(parent: int) -> tuple[int, str]:
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid(), "made here"


@pytest.mark.parametrize("call", [_fails_in_a_child, _killed_in_a_child], ids=["raises", "killed"])
def test_a_child_that_fails_leaves_the_call_to_this_process(call) -> None:
    assert ForkedCall(call, os.getpid()).result() == (os.getpid(), "made here")


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        pid, _ = ForkedCall(_pid_and, 1).result()
    finally:
        stop.set()
        other.join()
    assert pid == os.getpid()


def test_output_buffered_before_the_fork_is_written_once(tmp_path: Path) -> None:
    script = (
        "import sys, os\n"
        "from boxwise.forkcall import ForkedCall\n"
        "sys.stdout.write('before\\n')  # still in the buffer when the child is forked\n"
        "print(ForkedCall(os.getpid).result() != os.getpid())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "before\nTrue\n"
    assert not list(tmp_path.iterdir())


def _big_indexes(seed: int) -> list[list[Entry]]:
    """Four layers of a few thousand files: later layers rewrite, chown-copy and white out earlier ones."""
    rng = random.Random(seed)

    def layer(items: list[tuple[str, int]]) -> list[Entry]:
        return [tuple.__new__(Entry, (path, size, "0", 0o644, "")) for path, size in items]

    base = [f"usr/lib/p{n % 40}/m{n}.py" for n in range(4000)]
    gone = set(rng.sample(range(40), 5))
    return [
        layer([(path, rng.randint(0, 5000)) for path in base]),
        layer([(path, rng.randint(0, 5000)) for path in rng.sample(base, 1500)]),
        layer([(f"usr/lib/.wh.p{n}" if n in gone else f"usr/lib/p{n}/x", 7) for n in range(40)]),
        layer([(path, 3) for path in rng.sample(base, 2000)]),
    ]


def test_a_big_image_has_the_same_figures_with_the_exact_accounting_forked_or_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    indexes = _big_indexes(7)
    assert sum(map(len, indexes)) >= efficiency.FORK_FROM_ENTRIES  # forked as the s2i archive is
    forked = efficiency.measure(indexes)
    monkeypatch.setattr(efficiency, "FORK_FROM_ENTRIES", 10**9)
    here = efficiency.measure(indexes)
    assert forked == here
    assert forked.exact.wasted_bytes > 0 and len(forked.exact.files) > 1000
    assert all(type(row) is efficiency.FileWaste for row in forked.exact.files)
