"""poetry-install's build: poetry.lock into the launch layer `packages` (a virtual environment).

Which locked packages this app needs (the `main` group, for this Python and platform, with the
markers Poetry worked out across the dependency graph) is Poetry's own answer: Poetry and its
export plugin run from a build-only virtual environment in the cache-only layer `poetry` (never
in the image) and write that answer as a requirements file with every hash. `poetry export`
refuses a poetry.lock out of sync with pyproject.toml, as `poetry check --lock` does. pip then
installs it `--require-hashes --no-deps` (the lock is the whole closure), then the requirements pip
cannot hash (path and VCS dependencies), then the project itself, in place (`pip install -e .`,
what `poetry install` does with the root), unless `package-mode = false`.

Poetry is not the installer because it reads PyPI through its JSON API, which mirrors and proxies
often do not serve; pip needs only the simple index, like every other buildpack here.

The key is the sha256 of poetry.lock and pyproject.toml (and of the local projects the lock
installs), the Python version, the run image digest and the buildpack's code.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import collectstatic
import lockinstall
import package_managers
import pylayer
import pyversion

POETRY = ("poetry==2.5.1", "poetry-plugin-export==1.10.1")
TOOL_LAYER = "poetry"
OUT_OF_SYNC = "changed significantly since poetry.lock was last generated"


def local_sources(lock: dict) -> list[tuple[str, bool]]:
    """(path, editable) of each directory or file dependency poetry.lock names."""
    found = []
    for package in lock.get("package") or []:
        source = package.get("source") if isinstance(package, dict) else None
        if isinstance(source, dict) and source.get("type") in ("directory", "file") and source.get("url"):
            found.append((str(source["url"]), bool(package.get("develop"))))
    return found


def poetry_env(cache: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # Poetry must not take another buildpack's venv for the project's
    env.update(
        POETRY_CACHE_DIR=cache,
        POETRY_NO_INTERACTION="1",
        POETRY_VIRTUALENVS_CREATE="false",
        POETRY_KEYRING_ENABLED="false",
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    return env


def export(python: str, app_dir: str, folder: str) -> str:
    """Poetry's requirements file for the main group, with hashes; a stale lock fails the build."""
    out = os.path.join(folder, "poetry-export.txt")
    command = [python, "-m", "poetry", "export", "--only", "main", "--format", "requirements.txt"]
    command += ["--output", out, "--no-ansi"]
    shown = "poetry export --only main --format requirements.txt"
    code, output = lockinstall.run_tool(command, app_dir, poetry_env(os.path.join(folder, "cache")), shown)
    if code != 0:
        if any(OUT_OF_SYNC in line for line in output):
            pylayer.fail(
                "poetry.lock is out of date with pyproject.toml (`poetry check --lock`: pyproject.toml "
                f"{OUT_OF_SYNC}); run `poetry lock` and commit poetry.lock"
            )
        pylayer.fail(f"poetry.lock: `{shown}` failed (exit {code}): {lockinstall.last_error(output)}")
    with open(out, encoding="utf-8") as handle:
        return handle.read()


def install(app_dir: str, layers_dir: str, layer: str) -> None:
    python, _ = lockinstall.tool_python(layers_dir, TOOL_LAYER, POETRY)
    cache = pylayer.cache_dir(layers_dir)
    folder = tempfile.mkdtemp(prefix="boxwise-poetry-")
    try:
        options, hashed, plain = lockinstall.split_requirements(export(python, app_dir, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    pylayer.make_venv(layer)
    lockinstall.install_locked(layer, cache, options, hashed, plain, "poetry.lock")
    lockinstall.supply_seed_packages(layer, cache, "poetry.lock")
    pyproject = package_managers.read_toml(os.path.join(app_dir, "pyproject.toml"))
    if package_managers.poetry_package_mode(pyproject):
        pylayer.pip_install(layer, cache, ["--no-deps", "-e", "."])
    else:
        print("package-mode = false: the dependencies only, not the project itself", flush=True)


def packages_inputs(app_dir: str, facts: dict[str, str] | None = None) -> dict[str, str]:
    return lockinstall.packages_inputs(app_dir, "poetry.lock", local_sources, facts)


def outcome(app_dir: str, facts: dict[str, str], environ: dict[str, str]) -> dict:
    return pylayer.packages_outcome(packages_inputs(app_dir, facts))


def build(app_dir: str, layers_dir: str) -> None:
    pyversion.check_build_python(app_dir)  # before anything is installed
    inputs = packages_inputs(app_dir)
    layer = os.path.join(layers_dir, "packages")
    generation = pylayer.pip_cache_generation(layers_dir)
    if pylayer.keep_or_reset(layers_dir, "packages", inputs):
        lockinstall.keep_cache_layer(layers_dir, TOOL_LAYER)
    else:
        install(app_dir, layers_dir, layer)
        pylayer.finish_packages_layer(layer)
        generation = pylayer.layer_key(inputs)
    pylayer.declare_packages(layers_dir, "packages", inputs)
    pylayer.declare_pip_cache(layers_dir, generation)
    collectstatic.run(app_dir, layer)  # Django: after the install, as Heroku runs it
