"""build stage of boxwise (see docs/design.md): an app folder → an image, with boxwise's buildpacks.

    from boxwise.builder import BuildOptions, build_app
    result = build_app("apps/api", BuildOptions(base="boxwise-python:bookworm", tag="api:dev"))
    result.image_id, result.ref, [layer.line() for layer in result.layers]

The Docker SDK and the lifecycle load only when `build_app` runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boxwise.builder.options import BuildOptions, BuildResult, LayerReport, Process

__all__ = ["BuildOptions", "BuildResult", "LayerReport", "Process", "build_app"]


def __getattr__(name: str) -> Any:
    # `boxwise detect` imports boxwise.builder.builder_toml, which runs this package's __init__:
    # the options module (dozens of dataclasses) loads only when someone asks for one of them
    if name in ("BuildOptions", "BuildResult", "LayerReport", "Process"):
        from boxwise.builder import options

        return getattr(options, name)
    raise AttributeError(f"module 'boxwise.builder' has no attribute {name!r}")


def build_app(app_dir: str | Path, options: BuildOptions | None = None) -> BuildResult:
    """Build the app in `app_dir`; raises boxwise.errors.UserError (one line) when it cannot."""
    from boxwise.builder.lifecycle import build_app as run_lifecycle

    return run_lifecycle(app_dir, options)
