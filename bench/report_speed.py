"""What the merge-request report costs beside a plain `boxwise inspect` of the same image.

Side by side in one run, each command in a fresh process (as CI runs it), median wall time and
peak memory over --runs: `inspect NEW`, `diff BASE NEW`, `report NEW --baseline BASE` (markdown),
on two `docker save` archives: boxwise's Python base image and that image plus one app layer. The
report reads each image's layer index once for both its analysis and its file view, so its cost
should stay close to two inspects. Then, in-process, the Markdown of a 20,000-layer report cut to
GitHub's 65,536 characters (whole rows kept, binary search over the rows).

    python bench/report_speed.py [--runs 5] [--base boxwise-python:bookworm]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], cache: str | None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process; `cache`: its layer-index cache folder."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    if cache is not None:
        env["XDG_CACHE_HOME"] = cache
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"{' '.join(command)} failed: {child.stderr.read().decode() if child.stderr else ''}")
    return elapsed, usage.ru_maxrss


def make_images(base: str, folder: Path) -> tuple[Path, Path]:
    """`docker save` archives of the base and of the base plus a 2 MB app layer."""
    context = folder / "context"
    context.mkdir()
    (context / "app.bin").write_bytes(os.urandom(2_000_000))
    (context / "Dockerfile").write_text(f"FROM {base}\nCOPY app.bin /workspace/app.bin\n")
    tag = "boxwise-bench-report-new:latest"
    subprocess.run(["docker", "build", "-q", "-t", tag, str(context)], check=True, stdout=subprocess.DEVNULL)
    archives = (folder / "base.tar", folder / "new.tar")
    for image, archive in zip((base, tag), archives, strict=True):
        subprocess.run(["docker", "save", "-o", str(archive), image], check=True)
    subprocess.run(["docker", "rmi", tag], check=True, stdout=subprocess.DEVNULL)
    return archives


def bench_cut() -> tuple[float, int]:
    sys.path.insert(0, str(REPO / "src"))
    from boxwise.analyze.diff import diff_analyses
    from boxwise.analyze.efficiency import Accounting, Analysis, LayerInfo
    from boxwise.report.markdown import GITHUB_LIMIT, render_markdown
    from boxwise.report.model import ReportData

    layers = [
        LayerInfo(i, f"sha256:{i:064x}", f"sha256:{i:064x}", 1000 + i, f"RUN step {i}") for i in range(20_000)
    ]
    acct = Accounting(0.9, 10**6, 0.001)
    analysis = Analysis("docker://big", "big", "docker", None, 10**9, 10**9, layers, acct, acct)
    baseline = dataclasses.replace(analysis, layers=layers[:100])
    data = ReportData(
        "big", "docker://big", analysis, baseline=baseline, diff=diff_analyses(baseline, analysis)
    )
    started = time.perf_counter()
    text = render_markdown(data, limit=GITHUB_LIMIT, where="GitHub")
    return time.perf_counter() - started, len(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--base", default="boxwise-python:bookworm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base, new = make_images(args.base, Path(tmp))
        python = [sys.executable, "-m", "boxwise"]
        commands = {
            "inspect NEW": [*python, "inspect", f"docker-archive:{new}", "--format", "json"],
            "diff BASE NEW": [
                *python,
                "diff",
                f"docker-archive:{base}",
                f"docker-archive:{new}",
                "--format",
                "json",
            ],
            "report NEW --baseline BASE": [
                *python,
                "report",
                f"docker-archive:{new}",
                "--baseline",
                f"docker-archive:{base}",
                "--format",
                "markdown",
            ],
        }
        results: dict[str, list[tuple[float, int]]] = {}
        for _ in range(args.runs):  # interleaved, so machine load hits every command alike
            for name, command in commands.items():
                # cold: a fresh index cache, as on a new CI machine; warm: the cache of earlier runs
                cold = tempfile.mkdtemp(dir=tmp)
                results.setdefault(f"{name} (cold)", []).append(timed(command, cold))
                results.setdefault(f"{name} (warm)", []).append(timed(command, f"{tmp}/warm"))
        size = new.stat().st_size
    print(f"images: {args.base} and it + 2 MB layer ({size / 1e6:.0f} MB archive); {args.runs} runs each")
    print(f"{'command':<38} {'median s':>9} {'peak RSS MiB':>13}")
    for name, runs in sorted(results.items(), key=lambda item: item[0].endswith("(warm)")):
        median = statistics.median(t for t, _ in runs)
        peak = max(rss for _, rss in runs) / 1024
        print(f"{name:<38} {median:>9.3f} {peak:>13.1f}")
    seconds, length = bench_cut()
    print(f"markdown of 20,000 layers cut to GitHub's limit: {seconds:.3f} s, {length:,} characters")


if __name__ == "__main__":
    main()
