"""uv-install's build: uv.lock into the launch layer `packages` (a virtual environment), frozen.

uv comes from PyPI into a build-only virtual environment in the cache-only layer `uv` (never in the
image) and runs `uv sync --locked --no-default-groups` with UV_PROJECT_ENVIRONMENT naming the
layer, as Heroku's buildpack does: exactly what uv.lock pins (hash-checked), the dev groups left
out, `[tool.uv.sources]` paths and workspace members installed as the lock says (editable ones in
place), and the project itself in place when it is a package (a virtual project is not installed).
A uv.lock out of sync with pyproject.toml fails the build naming both files, as
`uv lock --check` would. uv's download cache is the cache-only layer `uv-cache`.

The key is the sha256 of uv.lock and pyproject.toml (and of the local projects the lock installs:
editable ones by their metadata, others by their whole tree), the Python version, the run image
digest and the buildpack's code.
"""

from __future__ import annotations

import os

import collectstatic
import lockinstall
import pylayer
import pyversion

UV = ("uv==0.13.9",)
TOOL_LAYER = "uv"
CACHE_LAYER = "uv-cache"
OUT_OF_SYNC = (
    "needs to be updated, but `--locked` was provided",
    "The lockfile at `uv.lock` needs to be updated",
)


def local_sources(lock: dict) -> list[tuple[str, bool]]:
    """(path, editable) of each local package uv.lock installs (not the project itself)."""
    found = []
    for package in lock.get("package") or []:
        source = package.get("source") if isinstance(package, dict) else None
        if not isinstance(source, dict):
            continue
        for kind, editable in (("editable", True), ("directory", False), ("path", False)):
            if isinstance(source.get(kind), str) and source[kind] not in (".", "./"):
                found.append((source[kind], editable))
    return found


def uv_env(layer: str, cache: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        UV_PROJECT_ENVIRONMENT=layer,  # uv syncs the venv of the layer, not a .venv in the app
        VIRTUAL_ENV=layer,
        UV_PYTHON=os.path.join(layer, "bin", "python"),
        UV_PYTHON_DOWNLOADS="never",  # the base's Python or nothing: uv must not fetch its own
        UV_CACHE_DIR=cache,
        UV_LINK_MODE="copy",  # the cache is another layer: no hard links into it
        UV_NO_PROGRESS="1",
    )
    env.pop("UV_COMPILE_BYTECODE", None)  # no .pyc: not reproducible, and not needed to run
    return env


def sync(uv: str, app_dir: str, layer: str, cache: str) -> None:
    command = [uv, "sync", "--locked", "--no-default-groups", "--color", "never"]
    code, output = lockinstall.run_tool(
        command, app_dir, uv_env(layer, cache), " ".join(["uv", *command[1:4]])
    )
    if code == 0:
        lock = os.path.join(layer, ".lock")  # uv's own lock against concurrent syncs: not for the image
        if os.path.isfile(lock) and os.path.getsize(lock) == 0:
            os.unlink(lock)
        return
    if any(marker in line for line in output for marker in OUT_OF_SYNC):
        pylayer.fail(
            "uv.lock is out of date with pyproject.toml (`uv sync --locked`: the lockfile needs to be "
            "updated); run `uv lock` and commit uv.lock"
        )
    pylayer.fail(f"uv.lock: `uv sync --locked` failed (exit {code}): {lockinstall.last_error(output)}")


def packages_inputs(app_dir: str, facts: dict[str, str] | None = None) -> dict[str, str]:
    return lockinstall.packages_inputs(app_dir, "uv.lock", local_sources, facts)


def outcome(app_dir: str, facts: dict[str, str], environ: dict[str, str]) -> dict:
    return pylayer.packages_outcome(packages_inputs(app_dir, facts))


def build(app_dir: str, layers_dir: str) -> None:
    pyversion.check_build_python(app_dir)  # before anything is installed
    inputs = packages_inputs(app_dir)
    layer = os.path.join(layers_dir, "packages")
    pip_generation = pylayer.pip_cache_generation(layers_dir)
    uv_generation = str(pylayer.restored_metadata(layers_dir, CACHE_LAYER).get("generation", ""))
    if pylayer.keep_or_reset(layers_dir, "packages", inputs):
        lockinstall.keep_cache_layer(layers_dir, TOOL_LAYER)
    else:
        python, installed = lockinstall.tool_python(layers_dir, TOOL_LAYER, UV)
        pylayer.make_venv(layer)
        sync(
            os.path.join(os.path.dirname(python), "uv"),
            app_dir,
            layer,
            pylayer.cache_dir(layers_dir, CACHE_LAYER),
        )
        pylayer.finish_packages_layer(layer)
        uv_generation = pylayer.layer_key(inputs)
        pip_generation = uv_generation if installed else pip_generation
    pylayer.declare_packages(layers_dir, "packages", inputs)
    lockinstall.declare_download_cache(layers_dir, CACHE_LAYER, uv_generation)
    pylayer.declare_pip_cache(layers_dir, pip_generation)
    collectstatic.run(app_dir, layer)  # Django: after the install, as Heroku runs it
