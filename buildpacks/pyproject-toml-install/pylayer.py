"""What the build steps of boxwise's buildpacks share: keys, pip, layer and TOML files.

Standard library only (it runs under the build image's python3, 3.11 or later for tomllib).
Each buildpack carries an identical copy (a buildpack folder must stand alone, as pack packages
it); tests/build/test_buildpack_files.py keeps the copies identical.

A dependency layer is a pip `--prefix` folder: its site-packages go on PYTHONPATH and its `bin/`
on PATH through the layer's env files, so no pip, setuptools or wheel lands in the image unless
the app asks for them (pip itself runs from the build image's own pip wheel).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - python3 < 3.11 in the build image
    tomllib = None

# Options in a requirements file that name another file whose content is part of the key.
_INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+)(\S+)")


def fail(message: str, code: int = 1) -> None:
    # stdout, like pip's own output, so the build log keeps the order things happened in
    print(f"ERROR: {message}", flush=True)
    sys.exit(code)


def read_toml(path: str) -> dict:
    if tomllib is None:
        fail("the build image's python3 is older than 3.11 (no tomllib); use a newer base image")
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        fail(f"{os.path.basename(path)}: not valid TOML ({exc}); fix the file")
    return {}


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def toml_dumps(table: dict, prefix: str = "") -> str:
    """Plain values first, then sub-tables, then arrays of tables; enough for layer and launch files."""
    lines, tables, arrays = [], [], []
    for key, value in table.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            arrays.append((key, value))
        else:
            lines.append(f"{json.dumps(key)} = {_toml_value(value)}")
    for key, value in tables:
        name = f"{prefix}{json.dumps(key)}"
        lines += ["", f"[{name}]", toml_dumps(value, f"{name}.").rstrip("\n")]
    for key, items in arrays:
        name = f"{prefix}{json.dumps(key)}"
        for item in items:
            lines += ["", f"[[{name}]]", toml_dumps(item, f"{name}.").rstrip("\n")]
    return "\n".join(line for line in lines).strip("\n") + "\n"


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def requirement_files(app_dir: str, first: str) -> list[str]:
    """`first` and every file it pulls in with -r/-c (recursively), relative to app_dir."""
    found: list[str] = []
    todo = [first]
    while todo:
        rel = os.path.normpath(todo.pop(0))
        if rel in found:
            continue
        path = os.path.join(app_dir, rel)
        if not os.path.isfile(path):
            fail(f"{rel}: included from a requirements file but missing; add it or drop the -r/-c line")
        found.append(rel)
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                match = _INCLUDE.match(line)
                if match and "://" not in match.group(1):
                    todo.append(os.path.join(os.path.dirname(rel), match.group(1)))
    return found


def run_image_digest() -> str:
    """The run image the layer will sit on: the platform says it; under other platforms the OS release."""
    digest = os.environ.get("BOXWISE_RUN_IMAGE_DIGEST", "")
    if digest:
        return digest
    try:
        return "os-release:" + sha256_file("/etc/os-release")[:16]
    except OSError:
        return "unknown"


def dependency_inputs(app_dir: str) -> dict[str, str]:
    """Everything a dependency layer depends on, each as a short fingerprint, in a fixed order.

    Both install buildpacks key on all the app's dependency files: when both run, the later one
    skips what the earlier installed, so a change to either file changes what each layer holds.
    """
    inputs: dict[str, str] = {}
    if os.path.isfile(os.path.join(app_dir, "requirements.txt")):
        for rel in requirement_files(app_dir, "requirements.txt"):
            inputs[rel] = sha256_file(os.path.join(app_dir, rel))
    if os.path.isfile(os.path.join(app_dir, "pyproject.toml")):
        inputs["pyproject.toml"] = sha256_file(os.path.join(app_dir, "pyproject.toml"))
    inputs["python"] = platform.python_version()
    inputs["base image"] = run_image_digest()
    inputs["buildpack"] = buildpack_code_sha()
    return inputs


def buildpack_code_sha() -> str:
    """A new buildpack version (its code) makes new layers, as a new base image does."""
    folder = os.environ.get("CNB_BUILDPACK_DIR") or os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for name in ("build_step.py", "pylayer.py"):
        try:
            digest.update(sha256_file(os.path.join(folder, name)).encode())
        except OSError:
            continue
    return digest.hexdigest()[:16]


def layer_key(inputs: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def changed_inputs(old: dict, new: dict[str, str]) -> list[str]:
    names = [name for name in new if old.get(name) != new[name]]
    names += [f"{name} (removed)" for name in old if name not in new]
    return names


def pip_command() -> tuple[list[str], list[str]]:
    """pip from a wheel (the python3-venv one, else ensurepip's), run with `python3 -S`.

    `-S` keeps the interpreter's own site-packages off sys.path, so pip sees as installed only
    what the layers on PYTHONPATH hold, and never uninstalls a package of the build image (or of
    the machine, with --runner local) to put another version in the layer. Returns the command
    and any extra `pip install` options it needs.
    """
    wheels = sorted(
        glob.glob("/usr/share/python-wheels/pip-*.whl")
        + glob.glob(os.path.join(os.path.dirname(os.__file__), "ensurepip", "_bundled", "pip-*.whl"))
    )
    if wheels:
        return [sys.executable, "-S", os.path.join(wheels[-1], "pip")], []
    check = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if check.returncode == 0:
        # No wheel to run in isolation: ignore what is installed rather than touch it.
        return [sys.executable, "-m", "pip"], ["--ignore-installed"]
    fail("the build image has no pip (neither a pip wheel nor `python3 -m pip`); install python3-venv")
    return [], []


def site_dir(prefix: str) -> str:
    """Where `pip install --prefix` puts packages (Debian's python adds `local/`)."""
    return sysconfig.get_path("purelib", vars={"base": prefix, "platbase": prefix})


def pip_install(prefix: str, cache_dir: str, args: list[str], req_files: list[str] | None = None) -> None:
    """pip install into `prefix`; pip's own output goes to the build log; failing pip fails the build.

    When pip fails on a requirement, the build also names the file and line it came from.
    """
    pip, extra = pip_command()
    command = [
        *pip,
        "install",
        *extra,
        "--prefix",
        prefix,
        "--no-compile",  # no .pyc: they are not reproducible and are not needed to run
        "--no-warn-script-location",
        "--disable-pip-version-check",
        "--root-user-action=ignore",
        "--progress-bar=off",
        "--no-input",
        "--cache-dir",
        cache_dir,
        *args,
    ]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    print("$ pip install " + " ".join(args), flush=True)
    output: list[str] = []
    merged = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    with subprocess.Popen(command, env=env, **merged) as pip:
        assert pip.stdout is not None
        for line in pip.stdout:
            print(line, end="", flush=True)
            output.append(line)
    if pip.returncode != 0:
        shutil.rmtree(prefix, ignore_errors=True)
        where = failing_line(output, req_files or [])
        if where:
            print(f"ERROR: {where}", flush=True)
        fail(f"pip install failed (exit {pip.returncode}); see pip's message above", pip.returncode)


_FAILED_REQ = re.compile(
    r"(?:satisfies the requirement|distribution found for|Invalid requirement:)"
    r"\s+'?([A-Za-z0-9][A-Za-z0-9._-]*)"
)


def failing_line(output: list[str], req_files: list[str]) -> str | None:
    """`requirements.txt:3: <line>` for the requirement pip failed on, when a file names it."""
    names = [m.group(1).lower() for line in output for m in [_FAILED_REQ.search(line)] if m]
    if not names:
        return None
    wanted = re.sub(r"[-_.]+", "-", names[-1])
    for rel in req_files:
        try:
            with open(rel, encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        for number, text in enumerate(lines, 1):
            head = re.split(r"[\s;<>=!~\[@]", text.strip(), maxsplit=1)[0]
            if re.sub(r"[-_.]+", "-", head.lower()) == wanted:
                return f"{rel}:{number}: {text.strip()}"
    return None


def write_env(layer: str, scope: str, name: str, value: str) -> None:
    folder = os.path.join(layer, scope)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
        handle.write(value)


def write_layer_toml(layers_dir: str, name: str, types: dict, metadata: dict) -> None:
    text = toml_dumps({"types": types, "metadata": metadata})
    with open(os.path.join(layers_dir, f"{name}.toml"), "w", encoding="utf-8") as handle:
        handle.write(text)


def restored_metadata(layers_dir: str, name: str) -> dict:
    """The `[metadata]` the platform restored for a layer (no `[types]`: they must be set again)."""
    data = read_toml(os.path.join(layers_dir, f"{name}.toml"))
    metadata = data.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def spark_home(site: str) -> str | None:
    """A Spark bundle among the installed packages: nxcals_bundle first (the platform team's), pyspark."""
    for package in ("nxcals_bundle", "pyspark"):
        folder = os.path.join(site, package)
        if os.path.isdir(folder):
            return folder
    return None


def finish_packages_layer(layer: str) -> None:
    """The env files of a dependency layer: PYTHONPATH for build and launch, SPARK_HOME at launch."""
    site = site_dir(layer)
    os.makedirs(site, exist_ok=True)
    write_env(layer, "env", "PYTHONPATH.prepend", site)
    write_env(layer, "env", "PYTHONPATH.delim", ":")
    spark = spark_home(site)
    if spark:
        write_env(layer, "env.launch", "SPARK_HOME.override", spark)
        print(f"Spark bundle found: SPARK_HOME={spark}", flush=True)


# boxwise restores a cache-only layer's contents only when a build needs them: it leaves the
# marker `<name>.deferred` beside the restored metadata, and exit code 75 asks it to restore the
# contents and run the build again. (A platform that restores everything leaves no marker.)
RESTORE_AND_RETRY = 75


def cache_dir(layers_dir: str, name: str = "pip-cache") -> str:
    """The cache-only layer's folder, with its cached contents (asking the platform for them)."""
    folder = os.path.join(layers_dir, name)
    if os.path.exists(os.path.join(layers_dir, f"{name}.deferred")) and not os.path.isdir(folder):
        print(f"layer '{name}': needed now; asking the platform to restore it", flush=True)
        sys.exit(RESTORE_AND_RETRY)
    os.makedirs(folder, exist_ok=True)
    return folder


def keep_or_reset(layers_dir: str, name: str, inputs: dict[str, str]) -> bool:
    """True when the restored layer has the same key (keep it); else empty it and say why."""
    layer = os.path.join(layers_dir, name)
    old = restored_metadata(layers_dir, name)
    key = layer_key(inputs)
    if old.get("key") == key and os.path.isdir(layer):
        print(f"layer '{name}': reused (key unchanged)", flush=True)
        return True
    if not old:
        why = "no cached layer"
    else:
        why = ", ".join(changed_inputs(old.get("inputs") or {}, inputs)) + " changed"
    print(f"layer '{name}': rebuilt: {why}", flush=True)
    shutil.rmtree(layer, ignore_errors=True)
    os.makedirs(layer)
    return False


def declare_packages(layers_dir: str, name: str, inputs: dict[str, str]) -> None:
    # launch: in the image; build: later buildpacks see it (and skip what it holds); cache: kept
    # for the next build, which reuses it when the key is unchanged.
    types = {"launch": True, "build": True, "cache": True}
    write_layer_toml(layers_dir, name, types, {"key": layer_key(inputs), "inputs": inputs})


def declare_pip_cache(layers_dir: str, generation: str) -> None:
    """pip's download cache: cache only, never exported; its metadata changes only when pip ran."""
    os.makedirs(os.path.join(layers_dir, "pip-cache"), exist_ok=True)
    write_layer_toml(
        layers_dir, "pip-cache", {"launch": False, "build": False, "cache": True}, {"generation": generation}
    )


def pip_cache_generation(layers_dir: str) -> str:
    return str(restored_metadata(layers_dir, "pip-cache").get("generation", ""))
