"""forkcall: a call made in a forked child gives the answer the call gives here, or is made here."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from boxwise.forkcall import ForkedCall
from boxwise.image.model import Entry

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def _fresh(script: str, cwd: Path | None = None) -> str:
    """`script`'s output in a new interpreter. Forks happen only with no other thread running,
    and the test session has threads of its own (fake servers): in it, every call runs here."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        cwd=cwd,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_call_runs_in_a_child_and_its_result_comes_back() -> None:
    out = _fresh(
        "import os\n"
        "from boxwise.forkcall import ForkedCall\n"
        "def pid_and(value): return os.getpid(), value * 2\n"
        "pid, doubled = ForkedCall(pid_and, 21).result()\n"
        "print(doubled, pid != os.getpid())\n"
    )
    assert out == "42 True\n"


@pytest.mark.parametrize(
    "failure",
    ["raise RuntimeError('only in the child')", "os.kill(os.getpid(), signal.SIGKILL)"],
    ids=["raises", "killed"],
)
def test_a_child_that_fails_leaves_the_call_to_this_process(failure: str) -> None:
    out = _fresh(
        "import os, signal\n"
        "from boxwise.forkcall import ForkedCall\n"
        "parent, ran = os.getpid(), []\n"
        "def call():\n"
        "    ran.append(os.getpid())  # in the parent only: the child's list is its own\n"
        "    if os.getpid() != parent:\n"
        f"        {failure}\n"
        "    return 'answer'\n"
        "forked = ForkedCall(call)\n"
        "assert forked._pid is not None, 'no child was forked'\n"
        "print(forked.result(), ran == [parent])\n"
    )
    assert out == "answer True\n"


def _pid_and(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


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
    out = _fresh(
        "import sys, os\n"
        "from boxwise.forkcall import ForkedCall\n"
        "sys.stdout.write('before\\n')  # still in the buffer when the child is forked\n"
        "print(ForkedCall(os.getpid).result() != os.getpid())\n",
        cwd=tmp_path,
    )
    assert out == "before\nTrue\n"
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


def test_a_big_image_has_the_same_figures_with_the_exact_accounting_forked_or_not() -> None:
    out = _fresh(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from boxwise import forkcall\n"
        "from boxwise.analyze import efficiency\n"
        "from tests.test_forkcall import _big_indexes\n"
        "forked_calls, plain = [], forkcall.ForkedCall.__init__\n"
        "def noted(self, *args):\n"
        "    plain(self, *args)\n"
        "    forked_calls.append(self._pid is not None)\n"
        "forkcall.ForkedCall.__init__ = noted\n"
        "indexes = _big_indexes(7)\n"
        "assert sum(map(len, indexes)) >= efficiency.FORK_FROM_ENTRIES  # forked as the s2i archive is\n"
        "forked = efficiency.measure(indexes)\n"
        "efficiency.FORK_FROM_ENTRIES = 10**9\n"
        "here = efficiency.measure(indexes)\n"
        "rows = forked.exact.files\n"
        "print(forked_calls, forked == here, len(rows) > 1000, forked.exact.wasted_bytes > 0,\n"
        "      all(type(row) is efficiency.FileWaste for row in rows))\n"
    )
    assert out == "[True] True True True True\n"
