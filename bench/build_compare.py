"""boxwise build vs two Dockerfiles, same app, same base, one run.

    python bench/build_compare.py [--base boxwise-python:bookworm] [--keep]

The app is examples/hello with a few more pinned pure-Python requirements (so pip has some work).
Three ways to build it:

- boxwise: `boxwise build` with an empty cache (cold), then again after a code-only change (warm:
  the host-side fast path, no build container), and once more with BOXWISE_FAST_PATH=0 (the
  lifecycle in a build container, every layer reused).
- s2i-style Dockerfile: COPY the app, create a venv and pip install in one RUN, then `chown -R`
  and `chmod -R` the app root (what s2i's fix-permissions does), as one would write it naively.
- multi-stage Dockerfile: a build stage makes the venv from requirements.txt alone (so a code
  change keeps it cached), the final stage copies the venv and the app, non-root user.

For each: cold build time (no cache), warm build time after a code-only change (the median of
--warm-repeat rebuilds, the three builders taking turns so they share the load), image size
and dive's efficiency score (`CI=true dive --source docker-archive --json`). Every build reaches
PyPI through this machine's proxy; the CA bundle goes to boxwise with --ca-cert and to the
Dockerfile builds as a build-context file (only the multi-stage image leaves it behind).
Prints a markdown table for docs/speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PREFIX = "boxwise-bench-build"
CA = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
EXTRA_REQUIREMENTS = "six==1.16.0\nidna==3.7\ncertifi==2024.2.2\nattrs==23.2.0\nMarkupSafe==2.1.5\n"

S2I_LABEL = "s2i-style Dockerfile (COPY, pip install, chown -R)"
MULTI_LABEL = "multi-stage Dockerfile (venv stage, slim final stage)"
S2I_DOCKERFILE = """\
FROM {base}
COPY . /opt/app-root/src
WORKDIR /opt/app-root/src
RUN python3 -m venv /opt/app-root \\
 && PIP_CERT=/opt/app-root/src/ca.crt /opt/app-root/bin/pip install -r requirements.txt
RUN chown -R 1001:0 /opt/app-root && chmod -R g+rw /opt/app-root
USER 1001
ENV PATH=/opt/app-root/bin:$PATH
CMD ["python", "-m", "hello"]
"""

MULTISTAGE_DOCKERFILE = """\
FROM {base} AS deps
COPY requirements.txt ca.crt /tmp/build/
RUN python3 -m venv /venv \\
 && PIP_CERT=/tmp/build/ca.crt /venv/bin/pip install --no-cache-dir -r /tmp/build/requirements.txt

FROM {base}
COPY --from=deps /venv /venv
WORKDIR /app
COPY . /app
USER 1000:1000
ENV PATH=/venv/bin:$PATH
CMD ["python", "-m", "hello"]
"""


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(command[:3])} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result


def timed(command: list[str], **kwargs: object) -> float:
    started = time.monotonic()
    run(command, **kwargs)
    return time.monotonic() - started


def make_app(where: Path, with_ca: bool) -> Path:
    app = where / "hello"
    shutil.copytree(REPO / "examples" / "hello", app)
    requirements = app / "requirements.txt"
    requirements.write_text(requirements.read_text() + EXTRA_REQUIREMENTS)
    if with_ca:
        shutil.copyfile(CA, app / "ca.crt")
    return app


def code_change(app: Path) -> None:
    main = app / "hello" / "__main__.py"
    main.write_text(main.read_text() + f"\n# code-only change {time.time_ns()}\n")


def image_size(tag: str) -> int:
    return int(run(["docker", "image", "inspect", "--format", "{{.Size}}", tag]).stdout.strip())


def dive_efficiency(tag: str, work: Path) -> float:
    archive = work / f"{tag.replace('/', '_').replace(':', '_')}.tar"
    run(["docker", "save", "-o", str(archive), tag])
    out = archive.with_suffix(".json")
    run(
        ["dive", "--source", "docker-archive", str(archive), "--json", str(out)],
        env={**os.environ, "CI": "true"},
    )
    archive.unlink()
    return float(json.loads(out.read_text())["image"]["efficiencyScore"])


@dataclass
class Builder:
    """One way to build the app: its commands, and what the bench measured of it."""

    name: str
    app: Path
    tag: str
    cold_command: list[str]
    warm_command: list[str]
    env: dict[str, str]
    results: dict[str, float] = field(default_factory=dict)
    warm_runs: list[float] = field(default_factory=list)


def boxwise_builder(base: str, work: Path) -> Builder:
    app = make_app(work / "boxwise", with_ca=False)
    tag = f"{PREFIX}/boxwise:latest"
    build = [sys.executable, "-m", "boxwise", "build", str(app), "--base", base, "--tag", tag]
    build += ["--cache", str(work / "boxwise-cache"), "--ca-cert", str(CA)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}  # this tree's boxwise
    # warm: the host-side fast path, no build container
    return Builder("boxwise build", app, tag, build, build, env)


def dockerfile_builder(label: str, name: str, dockerfile: str, base: str, work: Path) -> Builder:
    app = make_app(work / name, with_ca=True)
    (app / "Dockerfile").write_text(dockerfile.format(base=base))
    tag = f"{PREFIX}/{name}:latest"
    build = ["docker", "build", "--network", "host", "-q", "-t", tag, str(app)]
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    return Builder(label, app, tag, [*build[:2], "--no-cache", *build[2:]], build, env)


def bench(builders: list[Builder], warm_repeat: int, work: Path) -> None:
    """Cold builds one after the other, then `warm_repeat` rounds of a code-only change and a
    rebuild by each builder in turn, so the warm figures (medians) share the machine's load."""
    for builder in builders:
        builder.results["cold"] = timed(builder.cold_command, env=builder.env)
    for _ in range(warm_repeat):
        for builder in builders:
            code_change(builder.app)
            builder.warm_runs.append(timed(builder.warm_command, env=builder.env))
    for builder in builders:
        builder.results["warm"] = statistics.median(builder.warm_runs)
        builder.results["size"] = image_size(builder.tag)
        builder.results["efficiency"] = dive_efficiency(builder.tag, work)
    box = builders[0]
    code_change(box.app)  # the same code-only rebuild through the lifecycle in a build container
    box.results["warm_lifecycle"] = timed(box.warm_command, env={**box.env, "BOXWISE_FAST_PATH": "0"})


def remove_images() -> None:
    for name in ("boxwise", "s2i", "multistage"):
        subprocess.run(["docker", "rmi", "-f", f"{PREFIX}/{name}:latest"], capture_output=True)


def table(results: dict[str, dict[str, float]]) -> str:
    lines = [
        "| build | cold | warm (code-only change) | image size | dive efficiency |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['cold']:.1f} s | {r['warm']:.2f} s | {r['size'] / 1e6:.1f} MB "
            f"| {r['efficiency'] * 100:.4f} % |"
        )
        if "warm_lifecycle" in r:
            lifecycle = r["warm_lifecycle"]
            lines.append(f"| {name}, BOXWISE_FAST_PATH=0 (build container) | | {lifecycle:.2f} s | | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="boxwise-python:bookworm")
    parser.add_argument("--keep", action="store_true", help="keep the bench images")
    parser.add_argument("--warm-repeat", type=int, default=7, help="code-only rebuilds per builder")
    args = parser.parse_args()
    run(["bash", str(REPO / "scripts" / "base-image.sh")])
    remove_images()  # a cold build must not find an earlier bench image to take layers from
    with tempfile.TemporaryDirectory(prefix="boxwise-bench-build-") as tmp:
        work = Path(tmp)
        builders = [
            boxwise_builder(args.base, work),
            dockerfile_builder(S2I_LABEL, "s2i", S2I_DOCKERFILE, args.base, work),
            dockerfile_builder(MULTI_LABEL, "multistage", MULTISTAGE_DOCKERFILE, args.base, work),
        ]
        bench(builders, args.warm_repeat, work)
        results = {builder.name: builder.results for builder in builders}
        runs = {builder.name: builder.warm_runs for builder in builders}
    if not args.keep:
        remove_images()
    print(table(results))
    box, multi = results["boxwise build"], results[MULTI_LABEL]
    print()
    print(
        f"targets: efficiency >= 0.999: {box['efficiency']:.4f}; size <= multi-stage: "
        f"{box['size'] / 1e6:.1f} vs {multi['size'] / 1e6:.1f} MB; cold <= 1.1x multi-stage: "
        f"{box['cold'] / multi['cold']:.2f}x; warm <= multi-stage warm: {box['warm']:.2f} vs "
        f"{multi['warm']:.2f} s; warm <= 0.5 s: {box['warm']:.2f} s"
    )
    for name, seconds in runs.items():
        print(f"warm runs, {name}: " + ", ".join(f"{s:.2f}" for s in seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
