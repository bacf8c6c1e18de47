"""Run the buildpacks' detect rules against apps in this process, in builder.toml's order.

The builder (buildpack folders and order) is read by `boxwise.builder.builder_toml`, the same reader the
build uses.

Each buildpack's rule lives in `buildpacks/<id>/detect_rule.py`, the very module its `bin/detect`
runs inside a build. Here the module is loaded once and called per app, so detecting 200 apps
costs no process at all. The group choice is the one the build's driver makes with bin/detect:
the first group in order whose required buildpacks all pass (and at least one passes) wins,
keeping only the buildpacks that passed. (Each boxwise buildpack provides what it requires, so
the build plan always resolves; the plans are kept for callers.) A rule that answers None (where
its bin/detect exits 1) refuses the app: detection stops there with that one-line reason, as the
build's driver does.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from boxwise.builder.builder_toml import Builder, load_builder
from boxwise.builder.cnb_order import choose_group
from boxwise.errors import UserError

__all__ = ["Builder", "Detection", "detect_app", "load_builder", "load_rules"]


@dataclass
class Detection:
    """What detection found for one app."""

    group: list[str] = field(default_factory=list)  # the buildpacks that will build the app
    reasons: dict[str, str] = field(default_factory=dict)  # every buildpack tried -> why pass/fail
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)  # passing buildpack -> plan
    error: str = ""  # why no group can build the app (a detect error), e.g. several package managers

    @property
    def passed(self) -> bool:
        return bool(self.group)

    @property
    def failed(self) -> dict[str, str]:
        return {bp: why for bp, why in self.reasons.items() if bp not in self.group}


def load_rule(builder: Builder, buildpack_id: str) -> ModuleType:
    """The buildpack's detect_rule.py as a module (loaded from its file; one copy of the rule)."""
    path = builder.buildpacks[buildpack_id].folder / "detect_rule.py"
    name = "boxwise_buildpack_" + re.sub(r"[^A-Za-z0-9_]", "_", buildpack_id)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not path.is_file():
        raise UserError(f"{path}: the detect rule of buildpack {buildpack_id} is missing; reinstall boxwise")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_shared(builder: Builder, name: str) -> ModuleType:
    """A module of buildpacks/shared (e.g. `processes`, the one copy of process inference)."""
    path = (builder.shared or Path("/nonexistent")) / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"boxwise_buildpacks_shared_{name}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise UserError(f"{path}: a shared buildpack module is missing; reinstall boxwise")
    # its own imports of the other shared modules (`import tomlsafe`) by bare name, as in a
    # buildpack's folder: the folder stays on sys.path, as the detect rules put it there too
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    module = importlib.util.module_from_spec(spec)
    # registered while it runs, as an import would: dataclasses look their module up by name
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def load_rules(builder: Builder) -> dict[str, ModuleType]:
    return {bp: load_rule(builder, bp) for bp in builder.buildpacks}


class _Refused(Exception):
    """A detect rule refused the app (bin/detect would exit 1): detection stops, as the driver's does."""


def detect_app(builder: Builder, rules: dict[str, ModuleType], app_dir: Path) -> Detection:
    """Try each group of the builder's order on the app; the first that passes is chosen."""
    detection = Detection()
    results: dict[str, tuple[bool | None, str, dict[str, Any]]] = {}

    def passes(bp: str) -> bool:
        if bp not in results:
            results[bp] = rules[bp].detect(str(app_dir))
            detection.reasons[bp] = results[bp][1]
        if results[bp][0] is None:
            raise _Refused(results[bp][1])
        return bool(results[bp][0])

    try:
        chosen = choose_group(builder.order, passes)
    except _Refused as refused:
        detection.error = str(refused)
        return detection
    if chosen is not None:
        detection.group = chosen[1]
        detection.plans = {bp: results[bp][2] for bp in detection.group}
    return detection
