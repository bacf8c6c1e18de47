"""setup-py-install's build: a setup.py project with no other package manager file, installed by pip
into the launch layer `packages` (a virtual environment) in place: `pip install -e .`, as Heroku did
for such apps (s2i runs `pip install .`; in place keeps the code in the app layer alone, so a code
change never rebuilds this layer and the image holds the code once).

The key is the sha256 of the project's metadata files (setup.py, setup.cfg, pyproject.toml), the
Python version, the run image digest and the buildpack's code.
"""

from __future__ import annotations

import os

import collectstatic
import pylayer
import pyversion


def packages_inputs(app_dir: str, facts: dict[str, str] | None = None) -> dict[str, str]:
    """The key inputs of `packages` (the one function the build and the platform's fast path use)."""
    inputs = pylayer.dependency_inputs(app_dir, facts)
    inputs["local ."] = pylayer.local_path_sha(app_dir, ".", True)
    return inputs


def outcome(app_dir: str, facts: dict[str, str], environ: dict[str, str]) -> dict:
    return pylayer.packages_outcome(packages_inputs(app_dir, facts))


def build(app_dir: str, layers_dir: str) -> None:
    pyversion.check_build_python(app_dir)  # before anything is installed
    inputs = packages_inputs(app_dir)
    layer = os.path.join(layers_dir, "packages")
    generation = pylayer.pip_cache_generation(layers_dir)
    if not pylayer.keep_or_reset(layers_dir, "packages", inputs):
        cache = pylayer.cache_dir(layers_dir)
        pylayer.make_venv(layer)
        pylayer.pip_install(layer, cache, ["-e", "."], ["setup.py"])
        pylayer.finish_packages_layer(layer)
        generation = pylayer.layer_key(inputs)
    pylayer.declare_packages(layers_dir, "packages", inputs)
    pylayer.declare_pip_cache(layers_dir, generation)
    collectstatic.run(app_dir, layer)  # Django: after the install, as Heroku runs it
