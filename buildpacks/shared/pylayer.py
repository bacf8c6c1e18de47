"""What the build steps of boxwise's buildpacks share: keys, the virtual environment, pip.

Standard library only (it runs under the build image's python3, 3.11 or later for tomllib).
This file is the one source: boxwise copies it (with the other modules of buildpacks/shared, the
TOML writer tomlwrite.py among them) into each buildpack folder when it packages the buildpacks
for a build, so each folder stands alone as CNB wants.

A dependency layer is a virtual environment (`python3 -m venv --without-pip`), as Heroku's CNB
buildpack makes it: its `bin/` goes first on PATH through the layer, so console scripts, `python`
and `python3` work, and `.pth` files (editable installs) are processed because site-packages is a
real site directory. pip runs from a pip wheel with the venv's interpreter, so no pip, setuptools
or wheel lands in the image unless the app asks for them.
"""

from __future__ import annotations

import codecs
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys

from tomlwrite import toml_dumps

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - python3 < 3.11 in the build image
    tomllib = None

# Options in a requirements file that name another file whose content is part of the key.
_INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:\s*=\s*|\s*)(\S+)")
# A local path a requirements file installs: `-e ./libs/x`, `.`, `./pkg`, `file:./x` (not a URL).
_LOCAL = re.compile(r"^\s*(-e|--editable)?\s*(?:file:)?(\.{1,2}(?:/\S*)?|/\S+)\s*(?:#.*)?$")


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
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        fail(f"{os.path.basename(path)}: not valid TOML ({exc}); fix the file")
    except RecursionError:
        fail(f"{os.path.basename(path)}: nested too deeply to read; fix the file")
    return {}


def write_toml(path: str, table: dict) -> None:
    """Write a TOML file and read it back: a file the platform could not parse fails the build now."""
    text = toml_dumps(table)
    if tomllib is not None:
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:  # a bug in toml_dumps, never the app's fault
            fail(f"{os.path.basename(path)}: boxwise wrote invalid TOML ({exc}); please report this")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_requirements(path: str) -> list[str]:
    """A requirements file's lines, decoded as pip decodes it (a BOM names the encoding, else UTF-8)."""
    with open(path, "rb") as handle:
        data = handle.read()
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    return data.decode(encoding, errors="replace").splitlines()


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
        for line in read_requirements(path):
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


def build_facts() -> dict[str, str]:
    """What a dependency key takes from where the build runs rather than from the app's files.

    The platform's host-side fast path computes the same keys without a build container: it passes
    these three itself (the build image's Python as the last build in that image reported it, the
    run image's ID, this buildpack's code hashed from its own files)."""
    return {
        "python": platform.python_version(),
        "base image": run_image_digest(),
        "buildpack": buildpack_code_sha(),
    }


def dependency_inputs(app_dir: str, facts: dict[str, str] | None = None) -> dict[str, str]:
    """Everything a dependency layer depends on, each as a short fingerprint, in a fixed order.

    Both install buildpacks key on all the app's dependency files: when both run, the later one
    skips what the earlier installed, so a change to either file changes what each layer holds.
    `facts`: build_facts(), unless the platform computes the key outside the build.
    """
    inputs: dict[str, str] = {}
    if os.path.isfile(os.path.join(app_dir, "requirements.txt")):
        for rel in requirement_files(app_dir, "requirements.txt"):
            inputs[rel] = sha256_file(os.path.join(app_dir, rel))
        for rel, editable in local_paths(app_dir, list(inputs)):
            inputs[f"local {rel}"] = local_path_sha(app_dir, rel, editable)
    if os.path.isfile(os.path.join(app_dir, "pyproject.toml")):
        inputs["pyproject.toml"] = sha256_file(os.path.join(app_dir, "pyproject.toml"))
    facts = facts or build_facts()
    for name in ("python", "base image", "buildpack"):
        inputs[name] = facts[name]
    return inputs


SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", "node_modules", ".tox", ".mypy_cache", ".hg"}
# What decides an editable install's contents: its metadata, not its code (that stays in place).
PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


def local_paths(app_dir: str, req_files: list[str]) -> list[tuple[str, bool]]:
    """(folder relative to the app, editable?) for each local project the requirements install."""
    found: list[tuple[str, bool]] = []
    for rel in req_files:
        try:
            lines = read_requirements(os.path.join(app_dir, rel))
        except OSError:
            continue
        for line in lines:
            match = _LOCAL.match(line)
            if match:
                target = os.path.normpath(os.path.join(os.path.dirname(rel), match.group(2)))
                found.append((target, bool(match.group(1))))
    return found


def tree_sha(folder: str) -> str:
    digest = hashlib.sha256()
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = os.path.join(here, name)
            if name.endswith(".pyc") or not os.path.isfile(path):
                continue
            digest.update(os.path.relpath(path, folder).encode() + b"\0")
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def local_path_sha(app_dir: str, rel: str, editable: bool) -> str:
    """An editable install changes with its metadata files; a plain install with its whole tree."""
    folder = os.path.join(app_dir, rel)
    if not editable:
        return "tree:" + tree_sha(folder)[:32]
    digest = hashlib.sha256()
    for name in PROJECT_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            digest.update(name.encode() + b"\0" + sha256_file(path).encode())
    return "metadata:" + digest.hexdigest()[:32]


def buildpack_code_sha(folders: list[str] | None = None) -> str:
    """A new buildpack version (its code) makes new layers, as a new base image does.

    Each file is taken from the first of `folders` that has it: in a build, the buildpack's own
    folder (the shared modules are copied into it); on the platform's host, the buildpack's folder
    and then buildpacks/shared, which hold the very same files."""
    folders = folders or [os.environ.get("CNB_BUILDPACK_DIR") or os.path.dirname(os.path.abspath(__file__))]
    digest = hashlib.sha256()
    for name in (
        "build_step.py",
        "detect_rule.py",
        "pylayer.py",
        "processes.py",
        "package_managers.py",
        "lockinstall.py",
    ):
        path = next((os.path.join(f, name) for f in folders if os.path.isfile(os.path.join(f, name))), "")
        try:
            digest.update(sha256_file(path).encode())
        except OSError:
            continue
    return digest.hexdigest()[:16]


def layer_key(inputs: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def packages_outcome(inputs: dict[str, str]) -> dict[str, str]:
    """A build step's `outcome(app_dir, facts, environ)` for the platform's host-side fast path: what
    its build leaves that depends on the app, here the key of `packages`. An unchanged outcome means
    build() would reuse the layer as it is (keep_or_reset with the same key)."""
    return {"packages": layer_key(inputs)}


def changed_inputs(old: dict, new: dict[str, str]) -> list[str]:
    names = [name for name in new if old.get(name) != new[name]]
    names += [f"{name} (removed)" for name in old if name not in new]
    return names


def pip_command(python: str) -> list[str]:
    """pip run by `python` (the venv's interpreter) from a pip wheel, so pip never lands in the venv.

    The wheel: the build image's own (Debian's python3-pip-whl, or ensurepip's bundled one), else
    the one the platform brought along (BOXWISE_PIP_WHEEL: boxwise passes its host's pip when the
    build image has none, e.g. a base with python3 alone).
    """
    wheels = sorted(
        glob.glob("/usr/share/python-wheels/pip-*.whl")
        + glob.glob(os.path.join(os.path.dirname(os.__file__), "ensurepip", "_bundled", "pip-*.whl"))
    )
    platform_pip = os.environ.get("BOXWISE_PIP_WHEEL", "")
    if not wheels and platform_pip and os.path.exists(platform_pip):
        wheels = [platform_pip]
    if wheels:
        return [python, os.path.join(wheels[-1], "pip")]
    fail(
        "the build image has no pip (no pip wheel, and the platform brought none); use a build image "
        "with python3-venv, or run boxwise where pip is installed"
    )
    return []


def base_python() -> str:
    """The interpreter a virtual environment is made from (not another venv's, should one be on PATH)."""
    return getattr(sys, "_base_executable", "") or sys.executable


def make_venv(layer: str) -> str:
    """An empty virtual environment in `layer` (no pip in it); its python's path."""
    result = subprocess.run(
        [base_python(), "-m", "venv", "--without-pip", layer], capture_output=True, text=True
    )
    if result.returncode != 0:
        print(result.stdout + result.stderr, flush=True)
        fail(f"python3 -m venv failed (exit {result.returncode}); the build image's python3 lacks venv")
    return os.path.join(layer, "bin", "python")


def site_dir(layer: str) -> str:
    """The venv's site-packages (lib/pythonX.Y/site-packages on every POSIX python)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return os.path.join(layer, "lib", f"python{version}", "site-packages")


def pip_install(layer: str, cache_dir: str, args: list[str], req_files: list[str] | None = None) -> None:
    """pip install into the venv in `layer`; pip's output goes to the build log; failing pip fails the build.

    When pip fails on a requirement, the build also names the file and line it came from.
    """
    command = [
        *pip_command(os.path.join(layer, "bin", "python")),
        "install",
        "--no-compile",  # pip's .pyc carry source times: compile_site writes reproducible ones
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
        shutil.rmtree(layer, ignore_errors=True)
        where = failing_line(output, req_files or [])
        if where:
            print(f"ERROR: {where}", flush=True)
        fail(f"pip install failed (exit {pip.returncode}); see pip's message above", pip.returncode)


def failing_line(output: list[str], req_files: list[str]) -> str | None:
    """`requirements.txt:3: <line>` for the requirement pip failed on, when a file names it."""
    import installfail  # its patterns are compiled on import: only when pip has failed

    name = installfail.requirement_name(output)
    if not name:
        return None
    wanted = re.sub(r"[-_.]+", "-", name)
    for rel in req_files:
        try:
            lines = read_requirements(rel)
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
    write_toml(os.path.join(layers_dir, f"{name}.toml"), {"types": types, "metadata": metadata})


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


def retarget_interpreter(layer: str, run_python: str) -> None:
    """Point the venv at the run image's python3 when it lives elsewhere than the build's.

    With `--runner local` the buildpacks run on the CI job's own python (kaniko-style), which may
    sit at another path than the run image's; the platform then says where the run image has it.
    """
    bin_dir = os.path.join(layer, "bin")
    for name in os.listdir(bin_dir):
        path = os.path.join(bin_dir, name)
        if re.fullmatch(r"python(3(\.\d+)?)?", name) and os.path.islink(path):
            os.unlink(path)
            os.symlink(run_python, path)
    cfg = os.path.join(layer, "pyvenv.cfg")
    with open(cfg, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    home = os.path.dirname(run_python)
    lines = [f"home = {home}" if line.startswith("home =") else line for line in lines]
    lines = [line for line in lines if not line.startswith(("executable =", "command ="))]
    with open(cfg, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def compile_site(layer: str, site: str) -> None:
    """The dependencies' .pyc files, written once here instead of at every container start (an app
    importing Flask compiles ~100 modules: about a second of its startup). Reproducible, so the
    layer keeps one diff_id for one key: `unchecked-hash` pycs carry no source time, hash seed 0
    fixes the order of set constants, and a code object's bytes do not depend on what else its
    worker compiled (checked: one worker or many give the same files). A file that does not
    compile (a Python 2 module some packages still ship) is skipped, without its .pyc."""
    python = os.path.join(layer, "bin", "python")
    if not os.path.exists(python):
        python = base_python()
    command = [python, "-m", "compileall", "-qq", "-j0", "--invalidation-mode", "unchecked-hash"]
    # packages' own test suites (numpy/tests, pandas/tests: thousands of files) are never imported
    # by a running app: not compiled, which keeps a cold build's cost to what the app may load
    command += ["-x", r"/tests?/"]
    # the platform's --runner local builds under a temporary root: the paths the .pyc files record
    # (tracebacks) are the image's, /layers/…, and the .pyc bytes are never edited afterwards
    local_root = os.environ.get("BOXWISE_LOCAL_ROOT", "").rstrip("/")
    if local_root and site.startswith(local_root + "/"):
        command += ["-s", local_root, "-p", "/"]
    command.append(site)
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish_packages_layer(layer: str) -> None:
    """The env files of a dependency layer: its bin/ is on PATH by itself; VIRTUAL_ENV, SPARK_HOME."""
    run_python = os.environ.get("BOXWISE_RUN_PYTHON", "")
    if run_python and os.path.isfile(os.path.join(layer, "pyvenv.cfg")) and run_python != base_python():
        retarget_interpreter(layer, run_python)
    site = site_dir(layer)
    os.makedirs(site, exist_ok=True)
    compile_site(layer, site)
    write_env(layer, "env", "VIRTUAL_ENV.override", layer)
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


def _alternate_keys(layers_dir: str, name: str) -> list[str]:
    """Keys of earlier cached entries of the layer the platform can restore on request."""
    try:
        with open(os.path.join(layers_dir, f"{name}.alternates"), encoding="utf-8") as handle:
            return handle.read().split()
    except OSError:
        return []


def keep_or_reset(layers_dir: str, name: str, inputs: dict[str, str]) -> bool:
    """True when the restored layer has the same key (keep it); else empty it and say why."""
    layer = os.path.join(layers_dir, name)
    old = restored_metadata(layers_dir, name)
    key = layer_key(inputs)
    if old.get("key") == key and os.path.isdir(layer):
        print(f"layer '{name}': reused (key unchanged)", flush=True)
        return True
    if key in _alternate_keys(layers_dir, name):
        # An earlier build (another base, another branch) left a layer with this very key.
        print(f"layer '{name}': an earlier cached layer has this key; asking the platform for it", flush=True)
        with open(os.path.join(layers_dir, f"{name}.want"), "w", encoding="utf-8") as handle:
            handle.write(key)
        shutil.rmtree(layer, ignore_errors=True)
        sys.exit(RESTORE_AND_RETRY)
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
