"""The host-side fast path: a rebuild whose dependency layers all keep their keys runs no build container.

A full build leaves, beside its cache entries, a *fast-path record*: what each buildpack of the group
said it would leave as far as the app decides it (its `outcome(app_dir, facts, environ)`: the keys
of its dependency layers, the launch processes), the group the driver reported (layers with their
metadata and launch env, processes, labels), the build image and the build's Python. The record is
written only when the outcomes computed here, on the host, agree with what the build in the
container actually wrote, so the host provably computes the same keys with the same functions (the
buildpacks' own build_step modules, loaded from their folders as detect rules are).

A later build takes the fast path when nothing it cannot see changed: the same build image and run
base, the same detection, and the same outcome for every buildpack. Then the buildpacks would reuse
every layer and write the same launch metadata, so the recorded group *is* what they would report;
only the app layer (and the config that names it) is new. Anything uncertain (no record, an unknown
buildpack, a buildpack that would fail, build environment variables, `--clear-cache`, a build step
that writes into the app folder (appwrites.writes_app on the last build's cache record: Django's
collectstatic), BOXWISE_FAST_PATH=0) runs the full build.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from boxwise.builder.builder_toml import PROCESS_FALLBACK, Builder
from boxwise.builder.cache_record import AppLayers, BuildpackLayers, FastRecord
from boxwise.builder.cnbfiles import BuildpackBuild, LaunchLayer
from boxwise.builder.log import BuildLog
from boxwise.builder.options import LayerReport

FAST_PATH_ENV = "BOXWISE_FAST_PATH"  # "0": always run the lifecycle in a build container
_IMPORTS = threading.Lock()  # the build steps import their modules by plain names, one at a time


@dataclass(frozen=True)
class FastBuild:
    """What the lifecycle would have reported: the recorded group and layers, reused."""

    group: tuple[BuildpackBuild, ...]
    launch: list[LaunchLayer]
    keep: BuildpackLayers
    reports: list[LayerReport]
    record: FastRecord


def disabled() -> bool:
    return os.environ.get(FAST_PATH_ENV, "1").strip() == "0"


@contextlib.contextmanager
def build_steps(builder: Builder, ids: list[str]) -> Iterator[dict[str, ModuleType]]:
    """Each buildpack's build_step.py as a module, with its own detect_rule and the shared modules it
    imports by plain names (as bin/build puts them on sys.path), while the block runs (a shared
    module may import another lazily). The shared modules are imported once for all (their regular
    expressions are most of the cost); the plain names are released after."""
    shared = builder.shared or Path("/nonexistent")
    names = {path.stem for path in builder.shared_files()} | {"build_step", "detect_rule"}
    modules: dict[str, ModuleType] = {}
    with _IMPORTS:
        saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
        sys.path.insert(0, str(shared))
        try:
            for bp_id in ids:
                folder = builder.buildpacks[bp_id].folder
                for own in ("build_step", "detect_rule"):  # each buildpack's own, never the last one's
                    sys.modules.pop(own, None)
                name = "boxwise_build_step_" + re.sub(r"\W", "_", bp_id)
                spec = importlib.util.spec_from_file_location(name, folder / "build_step.py")
                if spec is None or spec.loader is None or not (folder / "build_step.py").is_file():
                    raise ImportError(f"{folder}/build_step.py: missing")
                sys.path.insert(0, str(folder))
                try:
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                finally:
                    sys.path.remove(str(folder))
                modules[bp_id] = module
            yield modules
        finally:
            sys.path.remove(str(shared))
            for name in names:
                sys.modules.pop(name, None)
            sys.modules.update(saved)


def outcomes(
    builder: Builder, ids: list[str], app_dir: Path, python: str, base_id: str, environ: dict[str, str]
) -> dict[str, dict[str, Any]] | str:
    """Each buildpack's outcome computed here, or a reason why it cannot be."""
    unknown = [bp_id for bp_id in ids if bp_id not in builder.buildpacks]
    if unknown:
        return f"buildpack {unknown[0]} is not in this builder"
    try:
        with build_steps(builder, ids) as modules:
            return _outcomes_of(builder, modules, app_dir, python, base_id, environ)
    except Exception as exc:  # any surprise: the full build decides
        return f"the build steps cannot be loaded here ({type(exc).__name__})"


def _outcomes_of(
    builder: Builder,
    modules: dict[str, ModuleType],
    app_dir: Path,
    python: str,
    base_id: str,
    environ: dict[str, str],
) -> dict[str, dict[str, Any]] | str:
    found: dict[str, dict[str, Any]] = {}
    for bp_id, module in modules.items():
        if not hasattr(module, "outcome") or not hasattr(module, "pylayer"):
            return f"buildpack {bp_id} does not say what its build depends on"
        folder = builder.buildpacks[bp_id].folder
        facts = {
            "python": python,
            "base image": base_id,
            "buildpack": module.pylayer.buildpack_code_sha([str(folder), str(builder.shared)]),
        }
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # what a step prints belongs to a build log
                found[bp_id] = module.outcome(str(app_dir), facts, dict(environ))
        except SystemExit:
            return f"buildpack {bp_id} would fail; the build says why"
        except Exception as exc:  # any surprise: the full build decides
            return f"buildpack {bp_id}: {type(exc).__name__}: {str(exc)[:120]}"
    return found


def detected_group(builder: Builder, app_dir: Path) -> list[str] | str:
    from boxwise.lint.detection import detect_app, load_rules

    try:
        detection = detect_app(builder, load_rules(builder), app_dir)
    except Exception as exc:  # a rule that crashes here makes bin/detect fail too: the build says it
        return f"detection: {type(exc).__name__}"
    if not detection.passed:
        return "detection does not pass"
    return detection.group


def driver_sha() -> str:
    """The in-container driver's code: a new driver may report another group for the same app."""
    return hashlib.sha256((Path(__file__).parent / "driver.py").read_bytes()).hexdigest()[:16]


def _disagreement(group: Sequence[BuildpackBuild], found: dict[str, dict[str, Any]]) -> str | None:
    """Where the host's outcomes differ from what the build in the container wrote, or None."""
    for bp in group:
        outcome = found.get(bp.id, {})
        for name, key in outcome.items():
            if name == "processes":
                if list(bp.processes) != key:  # the outcome's processes are a list, as launch.toml's
                    return f"{bp.id}: processes"
            elif name != "commands":
                layer = bp.layers.get(name)
                if (layer.metadata.get("key") if layer else None) != key:
                    return f"{bp.id}:{name}: key"
    return None


def make_record(
    builder: Builder,
    app_dir: Path,
    group: Sequence[BuildpackBuild],
    launch: Sequence[LaunchLayer],
    python: str,
    build_image_id: str,
    base_id: str,
    environ: dict[str, str],
) -> tuple[FastRecord | None, str]:
    """(the fast-path record of a full build, or None; why not) — after checking the host agrees."""
    ids = [bp.id for bp in group]
    detected = detected_group(builder, app_dir)
    if isinstance(detected, str):
        return None, detected
    if ids not in (detected, [*detected, PROCESS_FALLBACK]):
        return None, "the host's detection differs from the build's"
    found = outcomes(builder, ids, app_dir, python, base_id, environ)
    if isinstance(found, str):
        return None, found
    disagreement = _disagreement(group, found)
    if disagreement:
        return None, f"the host computes another {disagreement} than the build did"
    record = FastRecord(
        driver=driver_sha(),
        build_image=build_image_id,
        base_image=base_id,
        python=python,
        detected=tuple(detected),
        outcomes=found,
        group=tuple(group),
        launch=tuple(launch),
    )
    return record, ""


def fast_build(
    builder: Builder,
    app_dir: Path,
    document: AppLayers,
    build_image_id: str,
    base_id: str,
    environ: dict[str, str],
    blob_intact: Any,
) -> FastBuild | str:
    """The recorded build when nothing it depends on changed; else why not (one short phrase).
    `blob_intact(diff_id, size)`: whether the cache still has that layer, whole."""
    record = document.fast
    if record is None:  # none, or one of another RECORD_VERSION (a damaged one: no document at all)
        return "no record of a full build to start from"
    if record.driver != driver_sha():
        return "the lifecycle driver changed"
    if record.build_image != build_image_id or record.base_image != base_id:
        return "another build or run image"
    group, launch = record.group, list(record.launch)
    keep = document.buildpacks
    for la in launch:
        if (cached := document.latest(la.bp, la.name)) is None or cached.sha != la.diff_id:
            return "the layer cache no longer holds the recorded layers"
        if not blob_intact(la.diff_id, la.size):
            return f"layer {la.bp}:{la.name} is missing from the layer cache or damaged"
    detected = detected_group(builder, app_dir)
    if isinstance(detected, str):
        return detected
    if tuple(detected) != record.detected:
        return "another buildpack group detected"
    found = outcomes(builder, [bp.id for bp in group], app_dir, record.python, base_id, environ)
    if isinstance(found, str):
        return found
    for bp_id, outcome in found.items():
        if outcome != record.outcomes.get(bp_id):
            changed = sorted(k for k in outcome if outcome[k] != record.outcomes.get(bp_id, {}).get(k))
            return f"{bp_id}: {', '.join(changed) or 'outcome'} changed"
    reports = [LayerReport(la.bp, la.name, la.diff_id, la.size, "reused", "key unchanged") for la in launch]
    return FastBuild(group, launch, keep, reports, record)


def say_reused(fast: FastBuild, log: BuildLog) -> None:
    log.say("fast path: every dependency layer keeps its key: no build container, only the app layer is new")
    for bp_id, layers in sorted(fast.keep.items()):
        for name, entry in sorted(layers.items()):
            if entry.launch:
                log.say(f"layer {bp_id}:{name}: reused (key unchanged; from the layer cache)")
            else:
                log.say(f"cache layer {bp_id}:{name}: kept")
