"""The exported image's config: base config + launch env, default process, user, labels.

Only values from the base image and from what the buildpacks declared go in; nothing from the
build environment (no build env vars, no host names, no times other than the fixed one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from boxwise.builder.cnbfiles import BuildpackBuild, LaunchLayer
from boxwise.builder.driver import apply_env
from boxwise.builder.options import Process
from boxwise.builder.runtime import RunUser, runtime_env
from boxwise.errors import UserError
from boxwise.image.export import canonical_json

APP_DIR = "/workspace"
LAYERS_DIR = "/layers"
# A non-root user that differs from the build user (root), as CNB run images have it. It owns the
# app folder, as the CNB user does in a pack-built image, so an app may write beside its code.
RUN_OWNER = (1000, 1000)
RUN_USER = f"{RUN_OWNER[0]}:{RUN_OWNER[1]}"


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def env_list_to_dict(items: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in items:
        name, _, value = item.partition("=")
        env[name] = value
    return env


def launch_env(base_env: list[str], group: Sequence[BuildpackBuild]) -> list[str]:
    """Base env, then each launch layer's env (buildpack order, then layer name), as `K=V` items."""
    env = env_list_to_dict(base_env)
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    for bp in group:
        for name in sorted(bp.layers):
            layer = bp.layers[name]
            if layer.types["launch"]:
                apply_env(env, [(c.name, c.action, c.value, c.delim) for c in layer.launch_env])
    return [f"{name}={value}" for name, value in env.items()]


def processes(group: Sequence[BuildpackBuild], default_type: str | None = None) -> list[Process]:
    """All declared processes; a later buildpack's type replaces an earlier one; the last default
    wins, unless `default_type` (pack's --default-process) names the one to start."""
    by_type: dict[str, Process] = {}
    default = None
    for bp in group:
        for item in bp.processes:
            command = item.get("command") or []
            command = [command] if isinstance(command, str) else [str(c) for c in command]
            kind = str(item.get("type", "web"))
            by_type[kind] = Process(kind, command, [str(a) for a in item.get("args") or []], False, bp.id)
            if item.get("default"):
                default = kind
    if default_type is not None:
        if default_type not in by_type:
            have = ", ".join(by_type) or "none"
            raise UserError(f"--default-process {default_type}: the app has no such process (it has {have})")
        default = default_type
    if default is None and by_type:
        default = "web" if "web" in by_type else next(iter(by_type))
    return [Process(p.type, p.command, p.args, p.type == default, p.buildpack) for p in by_type.values()]


def build_config(
    base_config: dict[str, Any],
    base_ref: str,
    group: Sequence[BuildpackBuild],
    layers: Sequence[LaunchLayer],
    runtime: tuple[str, RunUser],
    app_diff_ids: list[str],
    epoch: int,
    default_type: str | None = None,
) -> bytes:
    """The config bytes. `layers`: the exported buildpack layers;
    `runtime`: the platform's layer (run user, process launchers) and the user it adds;
    `app_diff_ids`: the app layer, then the files the build steps wrote into the app, if any."""
    runtime_diff_id, user = runtime
    created = rfc3339(epoch)
    base_cfg = dict(base_config.get("config") or {})
    procs = processes(group, default_type)
    default = next((p for p in procs if p.default), None)
    labels = dict(base_cfg.get("Labels") or {})
    for bp in group:
        for label in bp.labels:
            labels[str(label.get("key"))] = str(label.get("value", ""))
    labels["io.buildpacks.lifecycle.metadata"] = json.dumps(
        lifecycle_metadata(base_config, base_ref, group, layers, app_diff_ids), sort_keys=True
    )
    labels["io.buildpacks.build.metadata"] = json.dumps(build_metadata(group, procs), sort_keys=True)
    cfg = {key: value for key, value in base_cfg.items() if key not in ("Entrypoint", "Cmd", "Labels")}
    cfg.update(
        Env=runtime_env(launch_env(list(base_cfg.get("Env") or []), group), user),
        WorkingDir=APP_DIR,
        User=RUN_USER,
        Labels=labels,
        Entrypoint=default.command if default else None,
        Cmd=default.args if default and default.args else None,
    )
    history = list(base_config.get("history") or [])
    for layer in layers:
        history.append(
            {
                "created": created,
                "created_by": f"Layer: '{layer.name}', Created by buildpack: {layer.bp}",
            }
        )
    history.append({"created": created, "created_by": "Runtime Layer: run user, /cnb/process launchers"})
    history.append({"created": created, "created_by": "Application Layer"})
    if len(app_diff_ids) > 1:
        history.append({"created": created, "created_by": "Application Layer: files the build wrote"})
    base_diff_ids = list((base_config.get("rootfs") or {}).get("diff_ids") or [])
    config = {
        "architecture": base_config.get("architecture", "amd64"),
        "os": base_config.get("os", "linux"),
        "created": created,
        "config": cfg,
        "rootfs": {
            "type": "layers",
            "diff_ids": [
                *base_diff_ids,
                *(layer.diff_id for layer in layers),
                runtime_diff_id,
                *app_diff_ids,
            ],
        },
        "history": history,
    }
    if base_config.get("variant"):
        config["variant"] = base_config["variant"]
    return canonical_json(config)


def lifecycle_metadata(
    base_config: dict[str, Any],
    base_ref: str,
    group: Sequence[BuildpackBuild],
    layers: Sequence[LaunchLayer],
    app_diff_ids: list[str],
) -> dict[str, Any]:
    """`io.buildpacks.lifecycle.metadata`: what made each layer, as the CNB exporter writes it."""
    base_diff_ids = list((base_config.get("rootfs") or {}).get("diff_ids") or [])
    buildpacks = []
    for bp in group:
        bp_layers = {}
        for layer in layers:
            if layer.bp == bp.id:
                bp_layers[layer.name] = {"sha": layer.diff_id, "data": layer.data, **layer.types}
        buildpacks.append({"key": bp.id, "version": bp.version, "layers": bp_layers, "store": {}})
    return {
        "app": [{"sha": diff_id} for diff_id in app_diff_ids],
        "buildpacks": buildpacks,
        "runImage": {
            "image": base_ref,
            "topLayer": base_diff_ids[-1] if base_diff_ids else "",
            "reference": base_ref,
        },
    }


def build_metadata(group: Sequence[BuildpackBuild], procs: list[Process]) -> dict[str, Any]:
    """`io.buildpacks.build.metadata`: the processes and the buildpacks of the detected group."""
    return {
        "buildpacks": [{"id": bp.id, "version": bp.version, "api": bp.api} for bp in group],
        "processes": [
            {
                "type": p.type,
                "command": p.command,
                "args": p.args,
                "direct": True,
                "default": p.default,
                "buildpackID": p.buildpack,
                "working-dir": APP_DIR,
            }
            for p in procs
        ],
        "launcher": {},
    }
