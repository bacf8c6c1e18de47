"""What the lock-file buildpacks share: build-only tool environments, and installing a lock with pip.

Standard library only (it runs under the build image's python3). Copied into each buildpack folder
with pylayer.py when boxwise packages the buildpacks; in a checkout it sits in ../shared.

Installer tools (Poetry and its export plugin, uv) come from PyPI into a virtual environment in a
cache-only layer of the buildpack: kept between builds, never exported, never in the image. Its
key is the pinned tools and the build image's Python, so a new pin installs them again.

A lock is installed exactly as `pipenv sync` / `poetry export | pip install` would: every pinned
requirement with its hashes, `--require-hashes --no-deps` (the lock is the whole closure), then
the requirements pip cannot hash (local paths, VCS URLs) with `--no-deps`.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable

import package_managers
import pylayer

CACHE_ONLY = {"launch": False, "build": False, "cache": True}
# The setuptools that CPython's ensurepip bundles, so `python -m venv` seeds it (none from 3.12 on).
VENV_SETUPTOOLS = {(3, 8): "56.0.0", (3, 9): "58.1.0", (3, 10): "65.5.0", (3, 11): "65.5.0"}
SEED_PACKAGES = ("setuptools", "pip", "wheel")
_MISSING = re.compile(r"^(\S+) \S+ requires (\S+), which is not installed\.?$")


# ------------------------------------------------------------------------- build-only tool venvs


def tool_inputs(requirements: tuple[str, ...]) -> dict[str, str]:
    return {
        "tools": " ".join(requirements),
        "python": platform.python_version(),
        "build image": "os-release:" + _os_release_sha(),
    }


def _os_release_sha() -> str:
    try:
        return pylayer.sha256_file("/etc/os-release")[:16]
    except OSError:
        return "unknown"


def tool_python(layers_dir: str, name: str, requirements: tuple[str, ...]) -> tuple[str, bool]:
    """(python, installed now?) of a build-only venv holding `requirements` in the cache-only layer `name`."""
    inputs = tool_inputs(requirements)
    key = pylayer.layer_key(inputs)
    folder = os.path.join(layers_dir, name)
    python = os.path.join(folder, "bin", "python")
    if pylayer.restored_metadata(layers_dir, name).get("key") == key:
        pylayer.cache_dir(layers_dir, name)  # its contents, asking the platform when they wait
        if os.path.isfile(python):
            print(f"layer '{name}': reused ({' '.join(requirements)}, build only)", flush=True)
            pylayer.write_layer_toml(layers_dir, name, CACHE_ONLY, {"key": key, "inputs": inputs})
            return python, False
    print(f"layer '{name}': installing {' '.join(requirements)} (build only, never in the image)", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    pylayer.make_venv(folder)
    pylayer.pip_install(folder, pylayer.cache_dir(layers_dir), list(requirements))
    pylayer.write_layer_toml(layers_dir, name, CACHE_ONLY, {"key": key, "inputs": inputs})
    return python, True


def keep_cache_layer(layers_dir: str, name: str) -> None:
    """Declare a cache-only layer again with its restored metadata: kept for the next build as it is
    (its contents are not even restored when the build did not need them)."""
    metadata = pylayer.restored_metadata(layers_dir, name)
    if metadata:
        os.makedirs(os.path.join(layers_dir, name), exist_ok=True)
        pylayer.write_layer_toml(layers_dir, name, CACHE_ONLY, metadata)


def declare_download_cache(layers_dir: str, name: str, generation: str) -> None:
    """A tool's download cache (as pip-cache): cache only; its metadata changes only when it was used."""
    os.makedirs(os.path.join(layers_dir, name), exist_ok=True)
    pylayer.write_layer_toml(layers_dir, name, CACHE_ONLY, {"generation": generation})


# ------------------------------------------------------------------------------- running a tool


def run_tool(command: list[str], cwd: str, env: dict[str, str], shown: str) -> tuple[int, list[str]]:
    """Run an installer tool with its output (stdout and stderr, in order) in the build log."""
    print(f"$ {shown}", flush=True)
    output: list[str] = []
    merged = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "errors": "replace"}
    with subprocess.Popen(command, cwd=cwd, env=env, **merged) as tool:
        assert tool.stdout is not None
        for line in tool.stdout:
            print(line, end="", flush=True)
            output.append(line.rstrip("\n"))
    return tool.returncode, output


def last_error(output: list[str]) -> str:
    """The tool's own last error line (`error: ...`, `Error: ...`), else its last line."""
    lines = [line.strip() for line in output if line.strip()]
    for line in reversed(lines):
        if re.match(r"(?i)^(error|×)\b", line):
            return re.sub(r"(?i)^(error:?|×)\s*", "", line)[:300]
    return lines[-1][:300] if lines else "no output"


# ---------------------------------------------------------------------- installing a lock with pip


def logical_lines(text: str) -> list[str]:
    """A requirements file's lines with backslash continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            lines.append(line)
    if pending.strip():
        lines.append(pending.strip())
    return lines


def split_requirements(text: str) -> tuple[list[str], list[str], list[str]]:
    """(options, hashed requirements, requirements without hashes) of a requirements file."""
    options: list[str] = []
    hashed: list[str] = []
    plain: list[str] = []
    for line in logical_lines(text):
        if line.startswith(("-e ", "--editable ")):
            plain.append(line)
        elif line.startswith("-"):
            options.append(line)
        elif "--hash=" in line:
            hashed.append(line)
        else:
            plain.append(line)
    return options, hashed, plain


def install_locked(
    layer: str, cache: str, options: list[str], hashed: list[str], plain: list[str], lock: str
) -> None:
    """Install a lock's requirements into the venv in `layer`: the hashed ones hash-checked, then the rest."""
    folder = tempfile.mkdtemp(prefix="boxwise-lock-")
    try:
        for number, (lines, flags) in enumerate(
            ((hashed, ["--require-hashes", "--no-deps"]), (plain, ["--no-deps"])), start=1
        ):
            if not lines:
                continue
            if number == 2:
                names = ", ".join(line.split(";")[0].strip() for line in lines)
                print(
                    f"{lock}: not hash-checked (pip cannot hash a local path or VCS URL): {names}", flush=True
                )
            path = os.path.join(folder, f"{os.path.basename(lock)}-{number}.txt")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("\n".join([*options, *lines]) + "\n")
            pylayer.pip_install(layer, cache, [*flags, "-r", path])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def supply_seed_packages(layer: str, cache: str, lock: str) -> None:
    """Install setuptools (pip, wheel) when an installed package needs it and the lock leaves it out.

    Poetry before 1.4 and pip-tools without --allow-unsafe left these out of locks: every virtual
    environment of their time had them. boxwise's venv has none, so gunicorn 20 (which imports
    pkg_resources) would not start. pip's own `pip check` says what is missing; setuptools comes
    in the version `python -m venv` seeds on this Python, not hash-checked (no lock pins it).
    """
    python = os.path.join(layer, "bin", "python")
    command = [*pylayer.pip_command(python), "check", "--disable-pip-version-check"]
    result = subprocess.run(
        command, capture_output=True, text=True, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    )
    missing: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        match = _MISSING.match(line.strip())
        if match:
            missing.setdefault(match.group(2).lower(), []).append(match.group(1))
    seeds = sorted(name for name in missing if name in SEED_PACKAGES)
    for name in sorted(set(missing) - set(seeds)):
        print(
            f"WARNING: {lock} lacks {name}, which {', '.join(missing[name])} requires; lock it again",
            flush=True,
        )
    if not seeds:
        return
    version = VENV_SETUPTOOLS.get(sys.version_info[:2])
    specs = [f"setuptools=={version}" if name == "setuptools" and version else name for name in seeds]
    needers = sorted({who for name in seeds for who in missing[name]})
    print(
        f"{lock} leaves out {', '.join(seeds)}, which {', '.join(needers)} needs (its locker left them to "
        f"the environment): installing {' '.join(specs)} as `python -m venv` would have (not hash-checked)",
        flush=True,
    )
    pylayer.pip_install(layer, cache, ["--no-deps", *specs])


# ------------------------------------------------------------------------------- layer key inputs


def inside_app(app_dir: str, rel: str) -> bool:
    """Whether a path a lock names lies inside the app folder (nothing outside is ever read)."""
    root = os.path.realpath(app_dir)
    target = os.path.realpath(os.path.join(app_dir, rel))
    return target == root or target.startswith(root + os.sep)


def refuse_outside(app_dir: str, local: list[tuple[str, bool]], lock: str) -> None:
    """Fail the build when the lock installs a local project outside the app folder: the build sees
    only the app folder, and nothing outside it is read on an app file's say-so."""
    for rel, _ in local:
        if rel.startswith("file:") or not inside_app(app_dir, rel):
            pylayer.fail(
                f"{lock}: it installs {rel}, outside the app folder, which the build does not see; "
                "move that project into the app folder (or publish it to an index)"
            )


def packages_inputs(
    app_dir: str,
    lock_name: str,
    local_sources: Callable[[dict], list[tuple[str, bool]]],
    facts: dict[str, str] | None = None,
) -> dict[str, str]:
    """The key inputs of a lock file's `packages` layer (the one function the build and the
    platform's fast path use): the lock read bounded, local projects it installs refused when they
    lie outside the app folder, then lock_inputs."""
    lock = package_managers.read_toml(os.path.join(app_dir, lock_name), package_managers.MAX_LOCK_READ)
    local = local_sources(lock)
    refuse_outside(app_dir, local, lock_name)
    return lock_inputs(app_dir, (lock_name,), local, facts)


def lock_inputs(
    app_dir: str, files: tuple[str, ...], local: list[tuple[str, bool]], facts: dict[str, str] | None = None
) -> dict[str, str]:
    """The dependency layer's key inputs: pylayer's (Python, base, buildpack code, pyproject.toml,
    requirements), the lock files, and each local project the lock installs (editable: its metadata;
    else its whole tree)."""
    inputs = pylayer.dependency_inputs(app_dir, facts)
    for name in files:
        path = os.path.join(app_dir, name)
        if os.path.isfile(path):
            inputs[name] = pylayer.sha256_file(path)
    for rel, editable in local:
        rel = os.path.normpath(rel)
        if rel != "." and inside_app(app_dir, rel) and os.path.exists(os.path.join(app_dir, rel)):
            if os.path.isfile(os.path.join(app_dir, rel)):
                inputs[f"local {rel}"] = "file:" + pylayer.sha256_file(os.path.join(app_dir, rel))[:32]
            else:
                inputs[f"local {rel}"] = pylayer.local_path_sha(app_dir, rel, editable)
    return inputs
