"""pip-install's build: requirements.txt into the launch layer `packages`, a virtual environment.

The key is the sha256 of the requirements files (with their -r/-c includes and the metadata of
local projects they install), the Python version and the run image digest. An unchanged key keeps
the restored layer as it is (the platform then reuses its bytes); a changed key empties the layer
first, so removed packages do not linger. pip's download cache lives in the cache-only layer
`pip-cache`.
"""

from __future__ import annotations

import os

import collectstatic
import pylayer
import pyversion

VENDOR = "vendor"


def vendored(app_dir: str) -> bool:
    """A vendor/ folder of wheels or sdists: installed from there alone, offline (as Paketo does)."""
    folder = os.path.join(app_dir, VENDOR)
    try:
        return any(name.endswith((".whl", ".tar.gz", ".zip")) for name in os.listdir(folder))
    except OSError:
        return False


def packages_inputs(app_dir: str, facts: dict[str, str] | None = None) -> dict[str, str]:
    """The key inputs of `packages` (the one function the build and the platform's fast path use)."""
    inputs = pylayer.dependency_inputs(app_dir, facts)
    if vendored(app_dir):
        inputs["vendor"] = pylayer.tree_sha(os.path.join(app_dir, VENDOR))
    return inputs


def outcome(app_dir: str, facts: dict[str, str], environ: dict[str, str]) -> dict:
    return pylayer.packages_outcome(packages_inputs(app_dir, facts))


def build(app_dir: str, layers_dir: str) -> None:
    pyversion.check_build_python(app_dir)  # before anything is installed
    inputs = packages_inputs(app_dir)
    offline = vendored(app_dir)
    layer = os.path.join(layers_dir, "packages")
    generation = pylayer.pip_cache_generation(layers_dir)
    if not pylayer.keep_or_reset(layers_dir, "packages", inputs):
        files = pylayer.requirement_files(app_dir, "requirements.txt")
        cache = pylayer.cache_dir(layers_dir)
        pylayer.make_venv(layer)
        args = ["--no-index", "--find-links", VENDOR] if offline else []
        if offline:
            print(f"{VENDOR}/ holds the packages: installing offline from it", flush=True)
        pylayer.pip_install(layer, cache, [*args, "-r", files[0]], files)
        pylayer.finish_packages_layer(layer)
        generation = pylayer.layer_key(inputs)
    pylayer.declare_packages(layers_dir, "packages", inputs)
    pylayer.declare_pip_cache(layers_dir, generation)
    collectstatic.run(app_dir, layer)  # Django: after the install, as Heroku runs it
