"""Tools the platform brings into the build container when the build image lacks them.

pip: a base with `python3` alone (no python3-venv / python3-pip-whl) has no pip wheel. boxwise
then hands the buildpacks the pip wheel of the Python it runs on: its ensurepip wheel, or, when
that Python has none (Debian's python3), a wheel-shaped zip of its installed pip package. pip
runs from it in the build only; it never lands in the image.
"""

from __future__ import annotations

import glob
import sys
import zipfile
from pathlib import Path

from boxwise.atomicfile import atomic_path
from boxwise.builder.cache import LayerCache

TOOLS_DIR = "/cnb/tools"


def _ensurepip_wheel() -> Path | None:
    folders = {Path(sys.base_prefix), Path(sys.prefix)}
    found: list[str] = []
    for prefix in folders:
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        found += glob.glob(str(prefix / "lib" / version / "ensurepip" / "_bundled" / "pip-*.whl"))
    found += glob.glob("/usr/share/python-wheels/pip-*.whl")
    return Path(sorted(found)[-1]) if found else None


def _zip_installed_pip(cache: LayerCache) -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("pip")
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(next(iter(spec.submodule_search_locations)))
    from pip import __version__  # type: ignore[import-not-found,unused-ignore]

    dest = cache.root / "tools" / f"pip-{__version__}-py3-none-any.whl"
    if dest.is_file():
        return dest
    with atomic_path(dest) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                out.write(path, "pip/" + path.relative_to(source).as_posix())
    return dest


def pip_wheel(cache: LayerCache) -> Path | None:
    """A pip wheel for the build container, or None when this Python has no pip at all."""
    return _ensurepip_wheel() or _zip_installed_pip(cache)
