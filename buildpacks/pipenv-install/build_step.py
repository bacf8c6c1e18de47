"""pipenv-install's build: Pipfile.lock into the launch layer `packages` (a virtual environment).

Pipenv itself is not needed: Pipfile.lock is JSON whose `default` section already is the whole
closure for this app, each package pinned with its hashes and the markers Pipenv merged for it.
It becomes a pip requirements file, installed `--require-hashes --no-deps` (what `pipenv sync`
does through pip), and the entries pip cannot hash (a local path, a VCS URL) after that. The
lock's `_meta.sources` other than PyPI become `--extra-index-url` (the hashes pin the files,
wherever they come from; `${VARS}` in a URL are expanded by pip). Dev packages are left out.

A Pipfile without a lock: its [packages] are installed as pip resolves them today, with a warning.

The key is the sha256 of Pipfile and Pipfile.lock (and of the local projects the lock installs),
the Python version, the run image digest and the buildpack's code.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from urllib.parse import urlsplit

import collectstatic
import detect_rule
import lockinstall
import package_managers
import pylayer
import pyversion

PYPI = {"https://pypi.org/simple", "https://pypi.python.org/simple", "https://pypi.org/simple/"}
# Pipfile keys that are environment markers (`sys_platform = "== 'linux'"`).
MARKER_KEYS = (
    "os_name",
    "sys_platform",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_version",
    "python_full_version",
    "implementation_name",
    "implementation_version",
)


def source_options(sources: object) -> list[str]:
    """pip options for the sources other than PyPI (Pipfile [[source]] or Pipfile.lock _meta.sources)."""
    options: list[str] = []
    for source in sources if isinstance(sources, list) else []:
        url = str(source.get("url", "")).strip() if isinstance(source, dict) else ""
        if not url or url.rstrip("/") in PYPI:
            continue
        options.append(f"--extra-index-url {url}")
        if source.get("verify_ssl") is False and urlsplit(url).hostname:
            options.append(f"--trusted-host {urlsplit(url).hostname}")
    return options


def _marker(entry: dict) -> str:
    parts = [str(entry["markers"])] if entry.get("markers") else []
    parts += [f"{key} {entry[key]}" for key in MARKER_KEYS if isinstance(entry.get(key), str)]
    if not parts:
        return ""
    return " ; " + " and ".join(f"({part})" if len(parts) > 1 else part for part in parts)


def requirement(name: str, entry: object) -> tuple[str, bool]:
    """(pip requirement line, hash-checked?) for one Pipfile or Pipfile.lock package entry."""
    if isinstance(entry, str):
        spec = entry.strip()
        spec = "" if spec == "*" else f"=={spec}" if spec[:1].isdigit() else spec
        return f"{name}{spec}", False
    if not isinstance(entry, dict):
        return name, False
    extras = f"[{','.join(str(e) for e in entry['extras'])}]" if entry.get("extras") else ""
    editable = "-e " if entry.get("editable") else ""
    if entry.get("git"):
        ref = f"@{entry['ref']}" if entry.get("ref") else ""
        sub = f"&subdirectory={entry['subdirectory']}" if entry.get("subdirectory") else ""
        return f"{editable}git+{entry['git']}{ref}#egg={name}{sub}", False
    if entry.get("path"):
        path = str(entry["path"])
        path = path if path.startswith((".", "/")) else f"./{path}"
        return f"{editable}{path}{extras}", False
    marker = _marker(entry)
    hashes = " ".join(f"--hash={h}" for h in entry.get("hashes") or [] if isinstance(h, str))
    if entry.get("file"):
        line = f"{name}{extras} @ {entry['file']}{marker}"
    else:
        version = str(entry.get("version", "")).strip()
        version = "" if version in ("*", "") else version
        line = f"{name}{extras}{version}{marker}"
    return (f"{line} {hashes}", True) if hashes else (line, False)


def local_paths(entries: dict) -> list[tuple[str, bool]]:
    return [
        (str(entry["path"]), bool(entry.get("editable")))
        for entry in entries.values()
        if isinstance(entry, dict) and entry.get("path")
    ]


def lock_requirements(lock: dict) -> tuple[list[str], list[str], list[str]]:
    """(pip options, hash-checked requirement lines, the others) of Pipfile.lock's default section."""
    meta = lock.get("_meta") if isinstance(lock.get("_meta"), dict) else {}
    hashed, plain = [], []
    for name, entry in sorted((lock.get("default") or {}).items()):
        line, checked = requirement(str(name), entry)
        (hashed if checked else plain).append(line)
    return source_options(meta.get("sources")), hashed, plain


def pipfile_requirements(pipfile: dict) -> list[str]:
    packages = pipfile.get("packages") if isinstance(pipfile.get("packages"), dict) else {}
    lines = source_options(pipfile.get("source"))
    return lines + [requirement(str(name), entry)[0] for name, entry in packages.items()]


def _install_unlocked(layer: str, cache: str, lines: list[str]) -> None:
    folder = tempfile.mkdtemp(prefix="boxwise-pipfile-")
    try:
        path = os.path.join(folder, "Pipfile-requirements.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        pylayer.pip_install(layer, cache, ["-r", path])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read(app_dir: str) -> tuple[dict | None, dict]:
    """(Pipfile.lock, or None without one; Pipfile) as this build reads them."""
    if os.path.isfile(os.path.join(app_dir, "Pipfile.lock")):
        lock, problem = detect_rule.read_lock(app_dir)
        if lock is None:
            pylayer.fail(problem)
        return lock, {}
    return None, package_managers.read_toml(os.path.join(app_dir, "Pipfile"))


def packages_inputs(app_dir: str, facts: dict[str, str] | None = None) -> dict[str, str]:
    """The key inputs of `packages` (the one function the build and the platform's fast path use)."""
    lock, pipfile = _read(app_dir)
    if lock is not None:
        local = local_paths(lock.get("default") or {})
    else:
        local = local_paths(pipfile.get("packages") if isinstance(pipfile.get("packages"), dict) else {})
    lockinstall.refuse_outside(app_dir, local, "Pipfile.lock" if lock is not None else "Pipfile")
    return lockinstall.lock_inputs(app_dir, ("Pipfile", "Pipfile.lock"), local, facts)


def outcome(app_dir: str, facts: dict[str, str], environ: dict[str, str]) -> dict:
    return pylayer.packages_outcome(packages_inputs(app_dir, facts))


def build(app_dir: str, layers_dir: str) -> None:
    pyversion.check_build_python(app_dir)  # before anything is installed
    lock, pipfile = _read(app_dir)
    locked = lock is not None
    if locked:
        options, hashed, plain = lock_requirements(lock)
    else:
        decision = package_managers.decide(app_dir)
        print(f"WARNING: {decision.warning}", flush=True)
        lines = pipfile_requirements(pipfile)
    inputs = packages_inputs(app_dir)
    layer = os.path.join(layers_dir, "packages")
    generation = pylayer.pip_cache_generation(layers_dir)
    if not pylayer.keep_or_reset(layers_dir, "packages", inputs):
        cache = pylayer.cache_dir(layers_dir)
        pylayer.make_venv(layer)
        if locked:
            lockinstall.install_locked(layer, cache, options, hashed, plain, "Pipfile.lock")
            lockinstall.supply_seed_packages(layer, cache, "Pipfile.lock")
        else:
            _install_unlocked(layer, cache, lines)
        pylayer.finish_packages_layer(layer)
        generation = pylayer.layer_key(inputs)
    pylayer.declare_packages(layers_dir, "packages", inputs)
    pylayer.declare_pip_cache(layers_dir, generation)
    collectstatic.run(app_dir, layer)  # Django: after the install, as Heroku runs it
