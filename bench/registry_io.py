"""registry:// against the engine and a `docker save` archive, side by side in one run: wall time
and peak memory (RSS) of each child process.

  read   `boxwise inspect` of the same image as docker-archive:TAR and as registry://REF (the
         engine pushed it, gzip layers), with a cold cache (fresh XDG_CACHE_HOME) and warm
  push   `docker push` (the engine: gzip, its own HEADs) against boxwise's push of the same image
         (the layers of its `docker save`, uncompressed, no engine), to a fresh repository each,
         then both again (every blob already there)

The registry is Debian's docker-registry on a free loopback port; images are tagged
boxwise-bench-registry-* and removed afterwards.

    python bench/registry_io.py [--image boxwise-python:bookworm] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PREFIX = "boxwise-bench-registry"

PUSH_SCRIPT = """
import json, sys, tarfile
from pathlib import Path
from boxwise.image.export import ExportImage, ExportLayer
from boxwise.image.registry import push_image
folder, target = Path(sys.argv[1]), sys.argv[2]
manifest = json.loads((folder / "manifest.json").read_text())[0]
config = (folder / manifest["Config"]).read_bytes()
ids = json.loads(config)["rootfs"]["diff_ids"]
layers = [ExportLayer(d, (folder / n).stat().st_size, folder / n) for d, n in zip(ids, manifest["Layers"])]
image = ExportImage(config, layers)
blobs = [(layer.diff_id, layer.size, layer.path) for layer in layers]
push_image(config, image.manifest(), blobs, target, say=lambda _: None)
"""


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss


def start_registry(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = workdir / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("docker-registry did not start")


def row(name: str, runs: list[tuple[float, int]]) -> str:
    seconds = statistics.median(run[0] for run in runs)
    rss = max(run[1] for run in runs)
    return f"  {name:<44} {seconds:7.2f} s   {rss / 1024:7.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--image", default="boxwise-python:bookworm")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    boxwise = [sys.executable, "-m", "boxwise"]
    with tempfile.TemporaryDirectory(prefix="boxwise-bench-registry-") as tmp:
        workdir = Path(tmp)
        registry, host = start_registry(workdir)
        tags: list[str] = []
        try:
            archive = workdir / "image.tar"
            subprocess.run(["docker", "save", args.image, "-o", str(archive)], check=True)
            unpacked = workdir / "unpacked"
            with tarfile.open(archive) as tar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(unpacked, filter="data")
                else:  # older patch releases: the archive is the engine's own
                    tar.extractall(unpacked)
            layer_names = json.loads((unpacked / "manifest.json").read_text())[0]["Layers"]
            size = sum((unpacked / name).stat().st_size for name in layer_names)
            print(f"image {args.image}: {size / 1e6:.1f} MB of layers (uncompressed); registry {host}")

            print("push (fresh repository, then again)")
            engine, ours, engine_again, ours_again = [], [], [], []
            for number in range(args.repeat):
                tag = f"{host}/{PREFIX}/engine-{number}:1"
                subprocess.run(["docker", "tag", args.image, tag], check=True)
                tags.append(tag)
                engine.append(measure(["docker", "push", tag]))
                engine_again.append(measure(["docker", "push", tag]))
                target = f"{host}/{PREFIX}/boxwise-{number}:1"
                ours.append(measure([sys.executable, "-c", PUSH_SCRIPT, str(unpacked), target]))
                ours_again.append(measure([sys.executable, "-c", PUSH_SCRIPT, str(unpacked), target]))
            print(row("docker push (engine, gzip)", engine))
            print(row("boxwise push (no engine, uncompressed)", ours))
            print(row("docker push, all blobs there", engine_again))
            print(row("boxwise push, all blobs there", ours_again))
            print("     (docker push: the CLI's RSS only; the engine does the work)")

            print("read: boxwise inspect --format json")
            ref = f"registry://{host}/{PREFIX}/engine-0:1"
            cases = {"docker-archive:TAR": f"docker-archive:{archive}", "registry:// (gzip layers)": ref}
            for name, target in cases.items():
                cold, warm = [], []
                for number in range(args.repeat):
                    env = {"XDG_CACHE_HOME": str(workdir / f"cache-{name[:8]}-{number}")}
                    cold.append(measure([*boxwise, "inspect", target, "--format", "json"], env))
                    warm.append(measure([*boxwise, "inspect", target, "--format", "json"], env))
                print(row(f"{name}, cold cache", cold))
                print(row(f"{name}, warm cache", warm))
        finally:
            for tag in tags:
                subprocess.run(["docker", "rmi", tag], capture_output=True)
            registry.terminate()
            registry.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
