"""How long `boxwise detect` takes on a 200-app monorepo and on one app, beside `python -c pass`.

Targets (issue 2, §7): median <= 0.3 s wall for 200 apps, <= 0.15 s for one app. Every command
runs in a fresh process, as pre-commit runs it, in the same run as the `python -c pass` floor.
Output goes to a pipe (plain text, as pre-commit without colour gets it); the "styled" rows make
rich render it as for a terminal.

    python bench/detect_speed.py [--apps 200] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from installed import installed_boxwise

REQUIREMENTS = "".join(
    f"{name}=={version}\n"
    for name, version in [
        ("flask", "3.0.3"),
        ("gunicorn", "22.0.0"),
        ("requests", "2.32.3"),
        ("pydantic", "2.7.4"),
        ("sqlalchemy", "2.0.31"),
        ("redis", "5.0.7"),
    ]
)


def make_monorepo(root: Path, count: int) -> None:
    """`count` apps of three kinds (requirements, pyproject, Procfile-only) with some source."""
    (root / "pyproject.toml").write_text('[tool.boxwise]\nshared = ["libs/**"]\n')
    for index in range(count):
        app = root / "apps" / f"app{index:03d}"
        (app / "src" / "pkg").mkdir(parents=True)
        for module in range(5):
            (app / "src" / "pkg" / f"m{module}.py").write_text("x = 1\n")
        (app / "Procfile").write_text("web: gunicorn pkg.wsgi:app\nworker: python -m pkg.worker\n")
        if index % 3 == 0:
            (app / "pyproject.toml").write_text(
                f'[project]\nname = "app{index}"\nversion = "1.0.0"\n'
                'dependencies = ["flask==3.0.3", "gunicorn==22.0.0"]\n'
                '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
            )
        if index % 3 != 2:
            (app / "requirements.txt").write_text(REQUIREMENTS)
        (app / ".dockerignore").write_text(".env\n**/__pycache__\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)


def run_once(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    code = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started, code.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    # As installed by pip (pre-commit's way), modules load from compiled bytecode: allow it to be
    # written; the warm-up round is not counted.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="boxwise-bench-detect-") as tmp:
        root = Path(tmp)
        make_monorepo(root, args.apps)
        # pre-commit runs the `boxwise` command of the hook's own environment: the same here
        boxwise = [installed_boxwise(Path(tempfile.gettempdir()) / "boxwise-bench-detect"), "detect"]
        rows = [
            ("python -c pass", [str(Path(boxwise[0]).with_name("python")), "-c", "pass"], None),
            (f"detect, {args.apps} apps, json", [*boxwise, "--format", "json"], 0.3),
            (f"detect, {args.apps} apps, text", boxwise, 0.3),
            (f"detect, {args.apps} apps, text styled by rich", ["env", "FORCE_COLOR=1", *boxwise], 0.3),
            (f"detect, {args.apps} apps, codequality", [*boxwise, "--format", "codequality"], 0.3),
            ("detect, 1 app, text", [*boxwise, "apps/app000"], 0.15),
            ("detect, 1 app, text styled by rich", ["env", "FORCE_COLOR=1", *boxwise, "apps/app000"], 0.15),
            (
                "detect, 1 app, 2 files (pre-commit)",
                [*boxwise, "apps/app001/Procfile", "apps/app001/requirements.txt"],
                0.15,
            ),
        ]
        # Round-robin: each round runs every command once, so a busy moment slows all rows alike.
        times: list[list[float]] = [[] for _ in rows]
        codes = [0] * len(rows)
        for round_number in range(args.runs + 1):
            for index, (_, command, _) in enumerate(rows):
                seconds, codes[index] = run_once(command, root, env)
                if round_number:
                    times[index].append(seconds)
        print(f"{'command':<42} {'median':>8} {'target':>8}  exit")
        failed = False
        for (label, _, target), samples, code in zip(rows, times, codes, strict=True):
            median = statistics.median(samples)
            verdict = "" if target is None else ("ok" if median <= target else "SLOW")
            failed |= verdict == "SLOW"
            target_text = "" if target is None else f"{target:.2f} s"
            print(f"{label:<42} {median:>6.3f} s {target_text:>8}  {code} {verdict}")
        print(f"({args.runs} rounds, median wall time, Python {sys.version.split()[0]})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
