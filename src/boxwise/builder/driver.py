"""The lifecycle's detect and build phases, run inside the build container (or in place).

Standard library only, Python >= 3.11 (tomllib): boxwise copies this file into the build image
as /cnb/lifecycle/driver.py and runs it with the image's python3, so one `exec` does the whole
detect → build and a remote engine costs one round trip. It reads the platform's plan
(`--plan FILE`, JSON: the order, the buildpacks and the folders) and writes what it found to
`<layers>/.boxwise/result.json` for the exporter on the host.

Exit codes follow the CNB lifecycle: 0 ok, 20 no group passed detection, 21 a detect errored,
51 a buildpack's build failed; and 75 when a buildpack asked for its deferred cache layers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from typing import Any

if __package__:  # imported on the host, as boxwise.builder.driver
    from boxwise.builder.cnb_order import choose_group
else:  # run as /cnb/lifecycle/driver.py in the build image, where cnb_order.py is carried next to it
    from cnb_order import choose_group  # type: ignore[import-not-found,no-redef]

# A buildpack's exit code asking boxwise to restore its deferred cache-only layers and run again.
RESTORE_AND_RETRY = 75
PATH_VARS = {"PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "LIBRARY_PATH", "CPATH", "PKG_CONFIG_PATH"}


def say(text: str) -> None:
    print(text, flush=True)


def read_toml(path: str) -> dict[str, Any]:
    """A TOML file a buildpack wrote; one that is not TOML fails the build (exit 51), as the CNB
    lifecycle fails it: an image without its processes or layer types must not pass for a good one."""
    import tomllib  # here, not at the top: the host imports this module's env helpers on 3.10

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        say(f"build: {path}: a buildpack wrote invalid TOML ({exc!r:.200}); the build failed")
        sys.exit(51)


def toml_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def write_bp_plan(path: str, requires: list[dict[str, Any]]) -> None:
    """The buildpack plan for one buildpack: its detect-time requires, as [[entries]]."""
    lines = []
    for entry in requires:
        lines += ["[[entries]]", f"name = {toml_string(entry.get('name', ''))}"]
        metadata = entry.get("metadata") or {}
        if metadata:
            lines.append("[entries.metadata]")
            lines += [f"{json.dumps(k)} = {toml_string(v)}" for k, v in metadata.items()]
        lines.append("")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


# ------------------------------------------------------------------------------------------ env


def read_env_dir(folder: str) -> list[tuple[str, str, str, str]]:
    """(name, action, value, delim) for each env file in a layer's env folder, sorted by file name."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    found = []
    for file_name in names:
        path = os.path.join(folder, file_name)
        if not os.path.isfile(path) or file_name.endswith(".delim"):
            continue
        name, _, action = file_name.partition(".")
        with open(path, encoding="utf-8") as handle:
            value = handle.read()
        delim = ""
        try:
            with open(os.path.join(folder, f"{name}.delim"), encoding="utf-8") as handle:
                delim = handle.read()
        except OSError:
            delim = ":" if name in PATH_VARS else ""
        found.append((name, action or "override", value, delim))
    return found


def apply_env(env: dict[str, str], files: list[tuple[str, str, str, str]]) -> None:
    for name, action, value, delim in files:
        old = env.get(name, "")
        if action == "default":
            if not old:
                env[name] = value
        elif action == "prepend":
            env[name] = value + delim + old if old else value
        elif action == "append":
            env[name] = old + delim + value if old else value
        else:
            env[name] = value


def layer_env(layer: str, scope: str) -> list[tuple[str, str, str, str]]:
    """What a layer adds to the environment at `scope` (build or launch), in the spec's order."""
    files: list[tuple[str, str, str, str]] = []
    if os.path.isdir(os.path.join(layer, "bin")):
        files.append(("PATH", "prepend", os.path.join(layer, "bin"), ":"))
    if os.path.isdir(os.path.join(layer, "lib")):
        files.append(("LD_LIBRARY_PATH", "prepend", os.path.join(layer, "lib"), ":"))
    files += read_env_dir(os.path.join(layer, "env"))
    files += read_env_dir(os.path.join(layer, f"env.{scope}"))
    return files


# --------------------------------------------------------------------------------------- detect


def run_detect(bp: dict[str, Any], app_dir: str, platform_dir: str, work: str) -> tuple[str, dict[str, Any]]:
    """('pass' | 'fail' | 'error', build plan) of one buildpack's bin/detect."""
    plan_path = os.path.join(work, f"plan-{bp['dir_name']}.toml")
    env = dict(
        os.environ,
        CNB_BUILD_PLAN_PATH=plan_path,
        CNB_PLATFORM_DIR=platform_dir,
        CNB_BUILDPACK_DIR=bp["path"],
    )
    result = subprocess.run(
        [os.path.join(bp["path"], "bin", "detect"), platform_dir, plan_path],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
    )
    for line in (result.stdout + result.stderr).splitlines():
        say(f"  {bp['id']}: {line}" if not line.startswith(bp["id"]) else f"  {line}")
    if result.returncode == 0:
        return "pass", read_toml(plan_path)
    if result.returncode == 100:
        return "fail", {}
    return "error", {}


def detect(plan: dict[str, Any], work: str) -> list[dict[str, Any]] | None:
    """The buildpacks of the first group that passes, each with the build plan its detect wrote."""
    outcomes: dict[str, tuple[str, dict[str, Any]]] = {}

    def passes(bp_id: str) -> bool:
        if bp_id not in outcomes:
            bp = plan["buildpacks"][bp_id]
            outcomes[bp_id] = run_detect(bp, plan["app_dir"], plan["platform_dir"], work)
        if outcomes[bp_id][0] == "error":
            say(f"detect: {bp_id} errored")
            sys.exit(21)
        return outcomes[bp_id][0] == "pass"

    chosen = choose_group(plan["order"], passes)
    if chosen is None:
        return None
    index, ids = chosen
    group = [{**plan["buildpacks"][bp_id], "plan": outcomes[bp_id][1]} for bp_id in ids]
    say(f"detect: group {index} passed: " + ", ".join(f"{bp['id']}@{bp['version']}" for bp in group))
    return group


# ---------------------------------------------------------------------------------------- build


def collect_layers(layers_dir: str) -> dict[str, dict[str, Any]]:
    """Every `<layer>.toml` a buildpack left: its types, metadata and launch env."""
    layers = {}
    for file_name in sorted(os.listdir(layers_dir)):
        if not file_name.endswith(".toml") or file_name in ("launch.toml", "build.toml", "store.toml"):
            continue
        name = file_name[: -len(".toml")]
        data = read_toml(os.path.join(layers_dir, file_name))
        types = data.get("types") or {}
        path = os.path.join(layers_dir, name)
        layers[name] = {
            "types": {key: bool(types.get(key, False)) for key in ("launch", "build", "cache")},
            "metadata": data.get("metadata") or {},
            "has_dir": os.path.isdir(path),
            "launch_env": layer_env(path, "launch") if types.get("launch") else [],
        }
    return layers


def run_build(bp: dict[str, Any], plan: dict[str, Any], env: dict[str, str], work: str) -> dict[str, Any]:
    layers_dir = os.path.join(plan["layers_dir"], bp["dir_name"])
    os.makedirs(layers_dir, exist_ok=True)
    bp_plan = os.path.join(work, f"bp-plan-{bp['dir_name']}.toml")
    write_bp_plan(bp_plan, (bp.get("plan") or {}).get("requires") or [])
    say(f"build: {bp['id']}@{bp['version']}")
    run_env = dict(
        env,
        CNB_LAYERS_DIR=layers_dir,
        CNB_PLATFORM_DIR=plan["platform_dir"],
        CNB_BP_PLAN_PATH=bp_plan,
        CNB_BUILDPACK_DIR=bp["path"],
        CNB_APP_DIR=plan["app_dir"],
    )
    command = [os.path.join(bp["path"], "bin", "build"), layers_dir, plan["platform_dir"], bp_plan]
    code = subprocess.run(command, cwd=plan["app_dir"], env=run_env).returncode
    if code == RESTORE_AND_RETRY:
        say(f"build: {bp['id']} needs its cached layers; the platform restores them and builds again")
        sys.exit(RESTORE_AND_RETRY)
    if code != 0:
        say(f"build: {bp['id']} failed (exit {code})")
        sys.exit(51)
    layers = collect_layers(layers_dir)
    for name, layer in layers.items():
        if layer["types"]["build"]:
            apply_env(env, layer_env(os.path.join(layers_dir, name), "build"))
    launch = read_toml(os.path.join(layers_dir, "launch.toml"))
    return {
        "id": bp["id"],
        "version": bp["version"],
        "api": bp.get("api", ""),
        "dir_name": bp["dir_name"],
        "layers": layers,
        "processes": launch.get("processes") or [],
        "labels": launch.get("labels") or [],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plan", required=True)
    args = parser.parse_args(argv)
    with open(args.plan, encoding="utf-8") as handle:
        plan = json.load(handle)
    work = os.path.join(plan["layers_dir"], ".boxwise")
    os.makedirs(work, exist_ok=True)
    group = detect(plan, work)
    if group is None:
        say("detect: no group passed; add a requirements.txt, a pyproject.toml or a Procfile")
        return 20
    env = dict(os.environ)
    results = [run_build(bp, plan, env, work) for bp in group]
    fallback = plan.get("process_fallback")
    if not any(result["processes"] for result in results) and fallback and fallback in plan["buildpacks"]:
        # No buildpack declared a process: the Procfile buildpack's build also knows how an app
        # without a Procfile runs (as its module), so the platform runs it as the last step.
        bp = plan["buildpacks"][fallback]
        if all(result["id"] != fallback for result in results):
            results.append(run_build({**bp, "plan": {}}, plan, env, work))
    with open(os.path.join(work, "result.json"), "w", encoding="utf-8") as handle:
        # the build's Python: a dependency key holds it; the platform's fast path takes it from here
        json.dump({"group": results, "python": platform.python_version()}, handle, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
