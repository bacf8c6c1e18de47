"""pyproject-toml-install's build: the project's dependencies into the launch layer `packages` (a
virtual environment), and the project itself installed in place (it runs from the app folder,
which is its own layer).

Installing the project in place means a `.pth` file naming its source folder (the app folder, or
its `src/`), a small dist-info (so `importlib.metadata` finds the project and its entry points)
and one console script per `[project.scripts]` entry, as an editable install has them. So a
code-only change never touches this layer: its key is the sha256 of pyproject.toml, the Python
version and the run image digest.

A project whose dependencies are dynamic (`dynamic = ["dependencies"]`, or no `[project]` table,
as with Poetry) is installed whole with `pip install .`; its key then also covers the source tree.
"""

from __future__ import annotations

import os
import re

import collectstatic
import pylayer
import pyversion


def _normal_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def script_text(python: str, target: str) -> str:
    module, _, func = target.partition(":")
    func = func.strip() or "main"
    head, _, attrs = func.partition(".")
    call = head + (f".{attrs}" if attrs else "")
    return f"#!{python}\nimport sys\nfrom {module.strip()} import {head}\nsys.exit({call}())\n"


def install_in_place(app_dir: str, layer: str, project: dict) -> None:
    """The project as an in-place install: its source on PYTHONPATH, a dist-info, its scripts."""
    site = pylayer.site_dir(layer)
    os.makedirs(site, exist_ok=True)
    src = os.path.join(app_dir, "src")
    source = src if os.path.isdir(src) else app_dir
    name = str(project.get("name") or os.path.basename(app_dir.rstrip("/")) or "app")
    version = str(project.get("version") or "0")
    dist = os.path.join(site, f"{_normal_name(name)}-{version}.dist-info")
    os.makedirs(dist, exist_ok=True)
    # A .pth file in the venv's site-packages: the source folder joins sys.path, as with `pip -e`.
    with open(os.path.join(site, f"__boxwise__.{_normal_name(name)}.pth"), "w", encoding="utf-8") as handle:
        handle.write(source + "\n")
    with open(os.path.join(dist, "METADATA"), "w", encoding="utf-8") as handle:
        handle.write(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    with open(os.path.join(dist, "INSTALLER"), "w", encoding="utf-8") as handle:
        handle.write("boxwise\n")
    scripts = project.get("scripts") or {}
    if scripts:
        with open(os.path.join(dist, "entry_points.txt"), "w", encoding="utf-8") as handle:
            handle.write("[console_scripts]\n")
            handle.writelines(f"{key} = {value}\n" for key, value in scripts.items())
        bin_dir = os.path.join(layer, "bin")
        os.makedirs(bin_dir, exist_ok=True)
        for key, value in scripts.items():
            path = os.path.join(bin_dir, key)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(script_text(os.path.join(layer, "bin", "python"), str(value)))
            os.chmod(path, 0o755)
    print(f"installed {name} {version} in place (runs from {source})", flush=True)


def _project(app_dir: str) -> tuple[dict | None, bool]:
    """([project] table or None, are the dependencies dynamic?)"""
    data = pylayer.read_toml(os.path.join(app_dir, "pyproject.toml"))
    project = data.get("project") if isinstance(data.get("project"), dict) else None
    return project, project is None or "dependencies" in (project.get("dynamic") or [])


def packages_inputs(app_dir: str, facts: dict[str, str] | None = None) -> dict[str, str]:
    """The key inputs of `packages` (the one function the build and the platform's fast path use)."""
    inputs = pylayer.dependency_inputs(app_dir, facts)
    if _project(app_dir)[1]:
        inputs["source tree"] = pylayer.tree_sha(app_dir)
    return inputs


def outcome(app_dir: str, facts: dict[str, str], environ: dict[str, str]) -> dict:
    return pylayer.packages_outcome(packages_inputs(app_dir, facts))


def build(app_dir: str, layers_dir: str) -> None:
    pyversion.check_build_python(app_dir)  # before anything is installed
    project, dynamic_deps = _project(app_dir)
    inputs = packages_inputs(app_dir)
    layer = os.path.join(layers_dir, "packages")
    generation = pylayer.pip_cache_generation(layers_dir)
    if not pylayer.keep_or_reset(layers_dir, "packages", inputs):
        cache = pylayer.cache_dir(layers_dir)
        pylayer.make_venv(layer)
        if dynamic_deps:
            pylayer.pip_install(layer, cache, ["."])
        else:
            deps = [str(dep) for dep in project.get("dependencies") or []]
            if deps:
                pylayer.pip_install(layer, cache, deps)
            install_in_place(app_dir, layer, project)
        pylayer.finish_packages_layer(layer)
        generation = pylayer.layer_key(inputs)
    pylayer.declare_packages(layers_dir, "packages", inputs)
    pylayer.declare_pip_cache(layers_dir, generation)
    collectstatic.run(app_dir, layer)  # Django: after the install, as Heroku runs it
