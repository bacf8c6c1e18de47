"""Run the buildpacks' detect rules against apps in this process, in builder.toml's order.

Each buildpack's rule lives in `buildpacks/<id>/detect_rule.py`, the very module its `bin/detect`
runs inside a build. Here the module is loaded once and called per app, so detecting 200 apps
costs no process at all. The group choice follows the CNB lifecycle: the first group in order
whose required buildpacks all pass (and at least one passes) wins, keeping only the buildpacks
that passed, and its build plan must resolve (every required entry has a provider and the
reverse), an optional buildpack that breaks that is dropped.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from boxwise.config import tomllib
from boxwise.errors import UserError


def buildpacks_dir() -> Path:
    """The buildpacks folder: inside the installed package, else at the repo root (editable)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "buildpacks", package.parents[1] / "buildpacks"):
        if (candidate / "builder.toml").is_file():
            return candidate
    raise UserError(f"{package}: the boxwise buildpacks are missing from this install; reinstall boxwise")


@dataclass(frozen=True)
class GroupEntry:
    id: str
    optional: bool = False


@dataclass(frozen=True)
class Builder:
    path: Path
    order: tuple[tuple[GroupEntry, ...], ...]

    @property
    def buildpack_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for group in self.order:
            for entry in group:
                seen.setdefault(entry.id, None)
        return list(seen)


@dataclass
class Detection:
    """What detection found for one app."""

    group: list[str] = field(default_factory=list)  # the buildpacks that will build the app
    reasons: dict[str, str] = field(default_factory=dict)  # every buildpack tried -> why pass/fail
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)  # passing buildpack -> plan

    @property
    def passed(self) -> bool:
        return bool(self.group)

    @property
    def failed(self) -> dict[str, str]:
        return {bp: why for bp, why in self.reasons.items() if bp not in self.group}


def load_builder(directory: Path | None = None) -> Builder:
    directory = directory or buildpacks_dir()
    path = directory / "builder.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: cannot read the builder ({exc}); reinstall boxwise") from None
    order = tuple(
        tuple(GroupEntry(entry["id"], bool(entry.get("optional", False))) for entry in group.get("group", []))
        for group in data.get("order", [])
    )
    return Builder(path, order)


def load_rule(builder: Builder, buildpack_id: str) -> ModuleType:
    """The buildpack's detect_rule.py as a module (loaded from its file; one copy of the rule)."""
    path = builder.path.parent / buildpack_id / "detect_rule.py"
    name = "boxwise_buildpack_" + buildpack_id.replace("-", "_").replace("/", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not path.is_file():
        raise UserError(f"{path}: the detect rule of buildpack {buildpack_id} is missing; reinstall boxwise")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_rules(builder: Builder) -> dict[str, ModuleType]:
    return {bp: load_rule(builder, bp) for bp in builder.buildpack_ids}


def _entries(plans: dict[str, dict[str, Any]], bp: str, kind: str) -> list[dict[str, Any]]:
    return plans.get(bp, {}).get(kind, [])


def _resolves(group: list[str], plans: dict[str, dict[str, Any]], required: set[str]) -> list[str] | None:
    """The group minus optional buildpacks whose plan does not resolve; None if a required one fails."""
    members = list(group)
    while True:
        broken = None
        for index, bp in enumerate(members):
            plan = plans.get(bp, {})
            provided_before = {
                e["name"] for b in members[: index + 1] for e in _entries(plans, b, "provides")
            }
            required_after = {e["name"] for b in members[index:] for e in _entries(plans, b, "requires")}
            if any(e["name"] not in required_after for e in plan.get("provides", [])) or any(
                e["name"] not in provided_before for e in plan.get("requires", [])
            ):
                broken = bp
                break
        if broken is None:
            return members
        if broken in required:
            return None
        members.remove(broken)


def detect_app(builder: Builder, rules: dict[str, ModuleType], app_dir: Path) -> Detection:
    """Try each group of the builder's order on the app; the first that passes is chosen."""
    detection = Detection()
    results: dict[str, tuple[bool, str, dict[str, Any]]] = {}
    for group in builder.order:
        for entry in group:
            if entry.id not in results:
                results[entry.id] = rules[entry.id].detect(str(app_dir))
                detection.reasons[entry.id] = results[entry.id][1]
        if any(not results[e.id][0] for e in group if not e.optional):
            continue
        passing = [e.id for e in group if results[e.id][0]]
        if not passing:
            continue
        plans = {bp: results[bp][2] for bp in passing}
        chosen = _resolves(passing, plans, {e.id for e in group if not e.optional})
        if chosen:
            detection.group = chosen
            detection.plans = {bp: plans[bp] for bp in chosen}
            return detection
    return detection
