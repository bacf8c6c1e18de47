"""The lifecycle's detect and build phases, run inside the build container (or in place).

Standard library only, Python >= 3.11 (tomllib): boxwise copies this file into the build image
as /cnb/lifecycle/driver.py and runs it with the image's python3, so one `exec` does the whole
detect → build and a remote engine costs one round trip. It reads the platform's plan
(`--plan FILE`, JSON: the order, the buildpacks and the folders) and writes what it found to
`<layers>/.boxwise/result.json` for the exporter on the host.

Exit codes follow the CNB lifecycle: 0 ok, 20 no group passed detection, 21 a detect errored,
51 a buildpack's build failed; and 75 when a buildpack asked for its deferred cache layers.

Files a build step writes into the app (Django's collectstatic, buildpacks/shared/collectstatic.py)
reach the image through the platform: the driver snapshots the app folder before the buildpacks
run, each such step names what it writes in the file BOXWISE_APP_STEPS names, and the new or
changed entries under those folders go into `<layers>/.boxwise/app-writes.tar` (listed in
result.json as `app_writes`; `app_steps` names the steps that could write, run or not), which the
platform exports as a layer after the app layer.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
import tarfile
from typing import Any

if __package__:  # imported on the host, as boxwise.builder.driver
    from boxwise.builder.cnb_order import choose_group
else:  # run as /cnb/lifecycle/driver.py in the build image, where cnb_order.py is carried next to it
    from cnb_order import choose_group  # type: ignore[import-not-found,no-redef]

# A buildpack's exit code asking boxwise to restore its deferred cache-only layers and run again.
RESTORE_AND_RETRY = 75
PATH_VARS = {"PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "LIBRARY_PATH", "CPATH", "PKG_CONFIG_PATH"}
# What build steps may write into the app (collected static files), and the app folder's snapshot.
APP_STEPS_ENV = "BOXWISE_APP_STEPS"
APP_WRITES_TAR = "app-writes.tar"
MAX_APP_ENTRIES = 200_000  # entries of the app folder snapshotted, and written by the steps
MAX_APP_WRITE_BYTES = 1 << 30  # bytes of files the steps may add to the image
MAX_STEPS_FILE = 1 << 20
# An entry of the app folder's snapshot: [type, size, mtime_ns, mode, link target] (a JSON list).
Entry = list[Any]


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


def write_bp_plan(path: str, requires: list[dict[str, Any]]) -> None:
    """The buildpack plan for one buildpack: its detect-time requires, as [[entries]] of a name and
    the metadata its detect gave (an empty file for none)."""
    # The buildpacks' own writer, carried beside this file (lifecycle.DRIVER_SHARED): only a build
    # writes a buildpack plan, and a build runs this file from there.
    from tomlwrite import toml_dumps

    entries = [
        {
            "name": str(entry.get("name", "")),
            **({"metadata": entry["metadata"]} if entry.get("metadata") else {}),
        }
        for entry in requires
    ]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(toml_dumps({"entries": entries}) if entries else "")


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


# ------------------------------------------------------------------------------ app writes


def _entry(path: str) -> Entry:
    st = os.lstat(path)
    link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
    return [stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode), link]


def walk_entries(folder: str, app_dir: str, limit: int) -> dict[str, Entry] | None:
    """{path relative to app_dir: [type, size, mtime_ns, mode, link]} of folder and all under it
    (symlinks not followed), or None past `limit` entries."""
    found = {os.path.relpath(folder, app_dir): _entry(folder)}
    for here, dirs, files in os.walk(folder):
        dirs.sort()
        for name in dirs + sorted(files):
            path = os.path.join(here, name)
            found[os.path.relpath(path, app_dir)] = _entry(path)
            if len(found) > limit:
                return None
    return found


def app_snapshot(app_dir: str, work: str) -> dict[str, Entry] | None:
    """The app folder as the build found it: taken once per build (a build run again after a
    restore keeps the first run's), None when it is too large to take."""
    path = os.path.join(work, "app-snapshot.json")
    try:
        with open(path, encoding="utf-8") as handle:
            stored: dict[str, Entry] | None = json.load(handle)
            return stored
    except FileNotFoundError:
        pass
    real_app = os.path.realpath(app_dir)
    snapshot = walk_entries(real_app, real_app, MAX_APP_ENTRIES)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(snapshot, handle)
    return snapshot


def read_app_steps(path: str, app_dir: str) -> tuple[list[str], list[str]]:
    """(steps that could write into the app, the folders they wrote) from the steps' JSON lines;
    a folder outside the app folder (or a link out of it) is refused."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(MAX_STEPS_FILE)
    except FileNotFoundError:
        return [], []
    steps, roots = set(), set()
    real_app = os.path.realpath(app_dir)
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict) or not isinstance(item.get("step"), str):
            continue
        steps.add(item["step"])
        root = item.get("writes")
        if not isinstance(root, str) or not root:
            continue
        real = os.path.realpath(root)
        if os.path.commonpath([real, real_app]) != real_app:
            say(f"build: {item['step']}: {root} is outside the app folder; its files are not kept")
            continue
        roots.add(real)
    return sorted(steps), sorted(roots)


def app_writes(app_dir: str, roots: list[str], before: dict[str, Entry] | None) -> list[str]:
    """The entries under `roots` (relative to the app folder) that are new or changed since `before`."""
    real_app = os.path.realpath(app_dir)
    changed: set[str] = set()
    for root in roots:
        if not os.path.lexists(root):
            continue
        now = walk_entries(root, real_app, MAX_APP_ENTRIES)
        if now is None:
            say(f"build: more than {MAX_APP_ENTRIES} files under {root}; the build wrote too many to keep")
            sys.exit(51)
        # JSON has lists where the snapshot had lists: compare them as they were stored
        changed.update(rel for rel, entry in now.items() if before is None or before.get(rel) != entry)
    changed.discard(".")
    if len(changed) > MAX_APP_ENTRIES:
        say(f"build: the build steps wrote more than {MAX_APP_ENTRIES} files into the app")
        sys.exit(51)
    return sorted(changed)


def write_app_tar(app_dir: str, paths: list[str], dest: str) -> None:
    """The written entries as a tar (files, folders, symlinks as they are; nothing else)."""
    real_app = os.path.realpath(app_dir)
    total = 0
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for rel in paths:
            path = os.path.join(real_app, rel)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                continue
            total += os.lstat(path).st_size if stat.S_ISREG(mode) else 0
            if total > MAX_APP_WRITE_BYTES:
                say(f"build: the build steps wrote more than {MAX_APP_WRITE_BYTES >> 20} MiB into the app")
                sys.exit(51)
            tar.add(path, arcname=rel, recursive=False)


def finish_app_writes(plan: dict[str, Any], work: str, before: dict[str, Entry] | None) -> dict[str, Any]:
    """What result.json says of the app writes, with their tar written."""
    steps, roots = read_app_steps(os.path.join(work, "app-steps.jsonl"), plan["app_dir"])
    paths = app_writes(plan["app_dir"], roots, before)
    if paths:
        write_app_tar(plan["app_dir"], paths, os.path.join(work, APP_WRITES_TAR))
        say(f"build: {len(paths)} files and folders written into the app by {', '.join(steps)} are kept")
    return {"app_steps": steps, "app_writes": paths}


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
    before = app_snapshot(plan["app_dir"], work)
    steps_file = os.path.join(work, "app-steps.jsonl")
    open(steps_file, "w").close()  # a build run again after a restore starts the list again
    env = dict(os.environ, **{APP_STEPS_ENV: steps_file})
    results = [run_build(bp, plan, env, work) for bp in group]
    fallback = plan.get("process_fallback")
    if not any(result["processes"] for result in results) and fallback and fallback in plan["buildpacks"]:
        # No buildpack declared a process: the Procfile buildpack's build also knows how an app
        # without a Procfile runs (as its module), so the platform runs it as the last step.
        bp = plan["buildpacks"][fallback]
        if all(result["id"] != fallback for result in results):
            results.append(run_build({**bp, "plan": {}}, plan, env, work))
    written = finish_app_writes(plan, work, before)
    with open(os.path.join(work, "result.json"), "w", encoding="utf-8") as handle:
        # the build's Python: a dependency key holds it; the platform's fast path takes it from here
        import platform  # here, not at the top: the host imports this module for apply_env

        document = {"group": results, "python": platform.python_version(), **written}
        json.dump(document, handle, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
