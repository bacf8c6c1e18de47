"""Which package manager installs an app: one decision, made here for every buildpack's detect and lint.

Standard library only; it runs in the build image (bin/detect, bin/build) and in `boxwise detect`,
which loads the detect rules in its own process. Reads are bounded: a hostile app cannot make it slow.

The files that name a package manager, as Heroku lists them (one of them, or the app is refused):

    requirements.txt (pip)   Pipfile.lock or Pipfile (Pipenv)   poetry.lock (Poetry)   uv.lock (uv)
    environment.yml / environment.yaml (conda), pixi.toml (pixi): known, not supported

With none of them the app's project files decide: a pyproject.toml project (a [project] or
[build-system] table) is installed by pip (pyproject-toml-install); a setup.py project is installed
by pip in place, editable (setup-py-install); setup.cfg alone is refused, since pip builds nothing
without a setup.py or pyproject.toml. Nothing at all: no manager (a stdlib-only app, procfile-run).

Several managers: refused, naming the files, unless the app's own pyproject.toml chooses one:

    [tool.boxwise]
    package-manager = "pip"      # pip, pipenv, poetry or uv
"""

from __future__ import annotations

import configparser
import os

MAX_READ = 1 << 20
# Lock files of big apps pass 1 MiB (one hash per wheel of every version they pin).
MAX_LOCK_READ = 32 << 20
# (manager, file) in the order the error lists them; Pipfile counts only without Pipfile.lock.
MANAGER_FILES = (
    ("pip", "requirements.txt"),
    ("pipenv", "Pipfile.lock"),
    ("pipenv", "Pipfile"),
    ("poetry", "poetry.lock"),
    ("uv", "uv.lock"),
    ("conda", "environment.yml"),
    ("conda", "environment.yaml"),
    ("pixi", "pixi.toml"),
)
LABELS = {"pip": "pip", "pipenv": "Pipenv", "poetry": "Poetry", "uv": "uv", "conda": "conda", "pixi": "pixi"}
SUPPORTED = ("pip", "pipenv", "poetry", "uv")
# The buildpack that installs an app of each kind (buildpacks/builder.toml has one group per kind).
BUILDPACKS = {
    "pip": "pip-install",
    "pipenv": "pipenv-install",
    "poetry": "poetry-install",
    "uv": "uv-install",
    "pyproject": "pyproject-toml-install",
    "setuptools": "setup-py-install",
}
LOCKED_ALTERNATIVES = "requirements.txt (pip), Pipfile.lock (Pipenv), poetry.lock (Poetry) or uv.lock (uv)"


class Decision:
    """The app's package manager (`manager`, "" for none), the files that say so, or why it is refused."""

    def __init__(self, manager: str = "", files: tuple[str, ...] = (), error: str = "", warning: str = ""):
        self.manager, self.files, self.error, self.warning = manager, files, error, warning

    @property
    def buildpack(self) -> str:
        return BUILDPACKS.get(self.manager, "")

    def not_mine(self, buildpack_id: str, marker: str, app_dir: str) -> str:
        """Why `buildpack_id` (whose file is `marker`) does not install this app."""
        if not os.path.lexists(os.path.join(app_dir, marker)):
            return f"no {marker}"
        if self.buildpack:
            return f"{self.files[0]} is there: {self.buildpack} installs the app"
        return f"{marker} is not what installs the app"

    def __repr__(self) -> str:
        return f"Decision({self.manager!r}, {self.files!r}, error={self.error!r})"


def read_text(path: str, limit: int = MAX_READ) -> str | None:
    """A text file of at most `limit` bytes (BOM dropped); None when missing, bigger or unreadable."""
    try:
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        return None
    return data.decode("utf-8-sig", errors="replace")


def read_toml(path: str, limit: int = MAX_READ) -> dict:
    """A TOML file as a dict; {} when it is missing, too big or not TOML (lint reports those)."""
    return _parse_toml(read_text(path, limit)) or {}


def _parse_toml(text: str | None) -> dict | None:
    import tomlsafe  # buildpacks/shared: refuses keys of thousands of dotted parts unparsed

    return tomlsafe.loads(text) or None


def _table(data: dict, *keys: str) -> dict:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def is_pyproject_project(pyproject: dict) -> bool:
    """A pyproject.toml that describes a project (not one that only holds [tool.*] settings)."""
    return "project" in pyproject or "build-system" in pyproject


def setup_cfg_project(app_dir: str) -> bool:
    """setup.cfg with a [metadata] or [options] section: setuptools project metadata, not tool settings."""
    text = read_text(os.path.join(app_dir, "setup.cfg"))
    if text is None:
        return False
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return False
    return parser.has_section("metadata") or parser.has_section("options")


def _found(app_dir: str) -> list[tuple[str, str]]:
    try:
        names = set(os.listdir(app_dir))  # one call, not one lstat per file name (a hook's budget)
    except OSError:
        names = set()
    found = [(manager, name) for manager, name in MANAGER_FILES if name in names]
    if ("pipenv", "Pipfile.lock") in found and ("pipenv", "Pipfile") in found:
        found.remove(("pipenv", "Pipfile"))  # the lock is what gets installed; Pipfile is its source
    return found


def _choose(setting: object, found: list[tuple[str, str]]) -> Decision:
    where = "pyproject.toml: [tool.boxwise] package-manager"
    if setting not in SUPPORTED:
        return Decision(error=f"{where} = {setting!r} is none of {', '.join(SUPPORTED)}; name one of those")
    files = tuple(name for manager, name in found if manager == setting)
    if not files:
        wanted = next(name for manager, name in MANAGER_FILES if manager == setting)
        return Decision(
            error=f'{where} = "{setting}", but there is no {wanted}; add it or change the setting'
        )
    return Decision(str(setting), files)


def _several(found: list[tuple[str, str]]) -> str:
    listed = ", ".join(f"{name} ({LABELS[manager]})" for manager, name in found)
    supported = next((m for m, _ in found if m in SUPPORTED), "pip")
    return (
        f"several package managers: {listed}; keep the files of the one the app uses, or choose it in "
        f'the app\'s pyproject.toml: [tool.boxwise] package-manager = "{supported}"'
    )


def decide(app_dir: str) -> Decision:
    """The package manager that installs the app in `app_dir`, or the one-line reason it cannot be built."""
    text = read_text(os.path.join(app_dir, "pyproject.toml"))
    parsed = _parse_toml(text)
    pyproject = parsed or {}
    found = _found(app_dir)
    setting = _table(pyproject, "tool", "boxwise").get("package-manager")
    if setting is not None:
        return _choose(setting, found)
    managers = list(dict.fromkeys(manager for manager, _ in found))
    if len(managers) > 1:
        return Decision(error=_several(found))
    if managers and managers[0] not in SUPPORTED:
        name = found[0][1]
        kind = "conda environments" if managers[0] == "conda" else "pixi projects"
        return Decision(error=f"{name}: {kind} are not supported; list the packages in {LOCKED_ALTERNATIVES}")
    if managers:
        files = tuple(name for _, name in found)
        warning = ""
        if files == ("Pipfile",):
            warning = (
                "Pipfile has no Pipfile.lock: the packages are installed unpinned from Pipfile; "
                "run `pipenv lock` and commit Pipfile.lock"
            )
        return Decision(managers[0], files, warning=warning)
    if _table(pyproject, "tool", "poetry") and not is_pyproject_project(pyproject):
        # Only Poetry can install [tool.poetry.dependencies] without a [project] or [build-system]
        # table, and boxwise installs Poetry apps from their lock, as Heroku does (GCP's builder
        # resolves them unpinned at every build).
        return Decision(
            error="pyproject.toml: a Poetry project ([tool.poetry]) with no poetry.lock, and no [project] "
            "or [build-system] table pip could install it from; run `poetry lock` and commit poetry.lock"
        )
    if is_pyproject_project(pyproject) or (text is not None and parsed is None):
        # (a pyproject.toml that is not TOML is taken as a project: its build says what is wrong)
        return Decision("pyproject", ("pyproject.toml",))
    if os.path.lexists(os.path.join(app_dir, "setup.py")):
        return Decision("setuptools", ("setup.py",))
    if setup_cfg_project(app_dir):
        return Decision(
            error="setup.cfg: pip cannot build a project from setup.cfg alone; add a pyproject.toml with "
            '[build-system] requires = ["setuptools>=61"], build-backend = "setuptools.build_meta"'
        )
    return Decision()


def detect_manager(
    app_dir: str, manager: str, marker: str, plan_entry: str, needs: tuple[str, ...] = ()
) -> tuple[bool | None, str, dict]:
    """The detect rule of the install buildpack for `manager`: (passed, why, build plan), passed None
    when the app is refused. `needs` are files the manager cannot work without (refused if absent)."""
    decision = decide(app_dir)
    if decision.error:
        return None, decision.error, {}
    if decision.manager != manager:
        return False, decision.not_mine(BUILDPACKS[manager], marker, app_dir), {}
    if not os.path.isfile(os.path.join(app_dir, marker)):
        return False, f"{marker} is not a regular file", {}
    for name in needs:
        if not os.path.isfile(os.path.join(app_dir, name)):
            return (
                None,
                f"{marker} without {name}: {LABELS.get(manager, manager)} needs both; commit {name}",
                {},
            )
    plan = {
        "provides": [{"name": plan_entry}],
        "requires": [{"name": plan_entry, "metadata": {"file": marker, "launch": True}}],
    }
    return True, f"found {marker}", plan


# --------------------------------------------------------------------- a setuptools project's needs


def setup_requirements(app_dir: str) -> list[str]:
    """The requirement strings a setuptools project declares: setup.cfg [options] install_requires
    and setup.py's `install_requires=[...]` when it is a literal list (read, never run)."""
    found: list[str] = []
    text = read_text(os.path.join(app_dir, "setup.cfg"))
    if text is not None:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text)
            found += parser.get("options", "install_requires", fallback="").splitlines()
        except configparser.Error:
            pass
    found += _setup_py_requires(read_text(os.path.join(app_dir, "setup.py")))
    return [line.strip() for line in found if line.strip() and not line.strip().startswith("#")]


def _setup_py_keyword(text: str | None, keyword: str) -> object:
    """The literal value of `keyword=` in a setup.py's setup() call (read, never run), or None."""
    import ast

    if not text:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == keyword:
            try:
                return ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, RecursionError):
                return None
    return None


def _setup_py_requires(text: str | None) -> list[str]:
    value = _setup_py_keyword(text, "install_requires")
    return [str(item) for item in value] if isinstance(value, (list, tuple)) else []


def setup_project_name(app_dir: str) -> str:
    """The setuptools project's name: setup.py's literal `name=`, else setup.cfg's [metadata] name."""
    name = _setup_py_keyword(read_text(os.path.join(app_dir, "setup.py")), "name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    text = read_text(os.path.join(app_dir, "setup.cfg"))
    if text is None:
        return ""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return ""
    return parser.get("metadata", "name", fallback="").strip()


# ------------------------------------------------------------------ whether the project is installed


def requirements_install_app(app_dir: str) -> bool:
    """requirements.txt lists the app itself (`.`, `./`, `-e .`), so pip builds and installs it."""
    text = read_text(os.path.join(app_dir, "requirements.txt"))
    for line in (text or "").splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[-1] in (".", "./") and words[0] in ("-e", "--editable", ".", "./"):
            return True
    return False


def poetry_package_mode(pyproject: dict) -> bool:
    """Poetry installs the project itself unless `package-mode = false` (dependencies only)."""
    return _table(pyproject, "tool", "poetry").get("package-mode", True) is not False


def uv_packaged(pyproject: dict) -> bool:
    """uv installs the project itself when it is a package: `[tool.uv] package = true`, or a
    [build-system] (and no `package = false`); otherwise it is a virtual project, dependencies only."""
    package = _table(pyproject, "tool", "uv").get("package")
    if isinstance(package, bool):
        return package
    return "build-system" in pyproject


def _pipenv_installs_app(app_dir: str) -> bool:
    import json

    text = read_text(os.path.join(app_dir, "Pipfile.lock"), MAX_LOCK_READ)
    if text is not None:
        try:
            entries = (json.loads(text).get("default") or {}).values()
        except (ValueError, AttributeError, RecursionError):
            return False
    else:
        entries = _table(read_toml(os.path.join(app_dir, "Pipfile")), "packages").values()
    return any(isinstance(e, dict) and str(e.get("path", "")).rstrip("/") in (".", "./") for e in entries)


def project_build(app_dir: str, decision: Decision | None = None) -> str:
    """How the build installs the app's own project: "backend" (its build backend runs: pip install
    of `.`, a Poetry or uv package, setup.py), "in-place" (pyproject-toml-install's source path and
    dist-info, no backend), or "" (the project itself is not installed)."""
    decision = decision or decide(app_dir)
    pyproject = read_toml(os.path.join(app_dir, "pyproject.toml"))
    if decision.manager == "pip":
        return "backend" if requirements_install_app(app_dir) else ""
    if decision.manager == "pipenv":
        return "backend" if _pipenv_installs_app(app_dir) else ""
    if decision.manager == "poetry":
        return "backend" if poetry_package_mode(pyproject) else ""
    if decision.manager == "uv":
        return "backend" if uv_packaged(pyproject) else ""
    if decision.manager == "pyproject":
        project = pyproject.get("project")
        static = isinstance(project, dict) and "dependencies" not in (project.get("dynamic") or [])
        return "in-place" if static else "backend"
    if decision.manager == "setuptools":
        return "backend"
    return ""


def installs_project(app_dir: str) -> bool:
    """Whether the image holds the app's own project (so its scripts exist)."""
    return project_build(app_dir) != ""
