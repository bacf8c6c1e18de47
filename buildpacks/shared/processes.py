"""What an app runs: its Procfile, or the process boxwise infers when there is none.

The one copy of these rules. procfile-run's build uses it inside the build image, and
`boxwise detect` loads this same file on the host, so lint (`no-process`) and build always give the
same answer for the same files. Standard library only (it runs under the build image's python3);
it reads the app's files and never imports or runs them.

Inference order when there is no Procfile (each choice comes with the reason it was taken):
  1. what the app's s2i settings name: APP_MODULE (a WSGI callable), APP_SCRIPT, APP_FILE,
     from the environment or `.s2i/environment`; then, as s2i, `gunicorn` alone when the app
     depends on gunicorn and its gunicorn.conf.py names the app (`wsgi_app`);
  2. the project's own first script (`[project.scripts]`, `[tool.poetry.scripts]`) when the
     project itself is installed;
  3. Django (`manage.py` and the settings' WSGI_APPLICATION): gunicorn on it when gunicorn is a
     dependency, else `manage.py runserver 0.0.0.0:$PORT` with a warning;
  4. a WSGI or ASGI callable (`app`/`application`, or a `create_app()` factory) in wsgi.py, app.py,
     application.py, main.py, asgi.py, server.py: gunicorn / uvicorn / hypercorn / waitress when
     the app depends on one;
  5. a script that runs itself (`if __name__ == "__main__":`), `python -m PKG` for a package with
     a `__main__.py`, or an executable `app.sh`.
A callable with no server to run it and no `__main__` block is no process at all: the image would
exit at once, so inference says what to add instead.
s2i's APP_HOME (a folder of the app) moves steps 1 and 3-5 there, as s2i's run script does: the
process runs `cd APP_HOME` first, with the app's root on PYTHONPATH.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import sys

# Files read to infer the process are bounded: a hostile app cannot make detect slow.
MAX_READ = 1 << 20
CALLABLE_FILES = ("wsgi.py", "app.py", "application.py", "main.py", "asgi.py", "server.py")
SCRIPT_FILES = ("app.py", "main.py", "server.py", "run.py", "wsgi.py", "application.py", "__main__.py")
ASGI_FRAMEWORKS = ("fastapi", "starlette", "quart", "litestar", "sanic", "django.core.asgi")
ASGI_CLASSES = {"FastAPI", "Starlette", "Quart", "Litestar", "Sanic"}
_PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.*)$")
# shlex tokens that make a command line a shell program rather than one command.
S2I_SETTINGS = ("APP_MODULE", "APP_SCRIPT", "APP_FILE", "APP_CONFIG", "APP_HOME")
_SHELL_OPERATORS = {"&&", "||", ";", "|", "&", "(", ")", ";;", "|&", "<", ">", ">>", "<<", ">&", "<&"}


class Choice:
    """An inferred process: its shell command, why it was chosen, and a warning when it is a fallback."""

    def __init__(self, command: str, reason: str, warning: str = "") -> None:
        self.command, self.reason, self.warning = command, reason, warning

    def __repr__(self) -> str:
        return f"Choice({self.command!r}, {self.reason!r})"


class NoProcess:
    """Nothing to start, and what to add so there is."""

    def __init__(self, hint: str) -> None:
        self.hint = hint


# ----------------------------------------------------------------------------------------- files


def _read(path: str) -> str | None:
    try:
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as handle:
            data = handle.read(MAX_READ + 1)
    except OSError:
        return None
    if len(data) > MAX_READ:
        return None
    return data.decode("utf-8-sig", errors="replace")


def _toml(path: str) -> dict:
    import tomlsafe  # buildpacks/shared: refuses keys of thousands of dotted parts unparsed

    return tomlsafe.loads(_read(path))


def normal_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_REQ_INCLUDE = re.compile(r"^\s*(?:-r|--requirement)(?:\s*=\s*|\s*)(\S+)")


def requirement_names(app_dir: str, rel: str = "requirements.txt", seen: set[str] | None = None) -> set[str]:
    """Names a requirements file asks for (with its -r includes inside the app folder)."""
    seen = seen if seen is not None else set()
    path = os.path.normpath(os.path.join(app_dir, rel))
    if path in seen or not (path + os.sep).startswith(os.path.realpath(app_dir) + os.sep) or len(seen) > 50:
        return set()
    seen.add(path)
    text = _read(path)
    names: set[str] = set()
    for line in (text or "").splitlines():
        line = line.split(" #", 1)[0].strip()
        include = _REQ_INCLUDE.match(line)
        if include:
            names |= requirement_names(app_dir, os.path.join(os.path.dirname(rel), include.group(1)), seen)
            continue
        if line.startswith("-") or "://" in line.split("@", 1)[0]:
            continue
        match = _REQ_NAME.match(line)
        if match:
            names |= _with_extras(match.group(1), line[match.end() :])
    return names


def _with_extras(name: str, rest: str) -> set[str]:
    """The name, plus the server an extra brings (`fastapi[standard]` installs uvicorn)."""
    names = {normal_name(name)}
    extras = re.match(r"\s*\[([^\]]*)\]", rest)
    if names == {"fastapi"} and extras and "standard" in extras.group(1):
        names.add("uvicorn")
    return names


def _dep_names(spec: object) -> set[str]:
    match = _REQ_NAME.match(str(spec))
    return _with_extras(match.group(1), str(spec)[match.end() :]) if match else set()


def declared_packages(app_dir: str) -> set[str]:
    """Every distribution the app's dependency files name (requirements, pyproject, Pipfile, locks)."""
    names = requirement_names(app_dir)
    pyproject = _toml(os.path.join(app_dir, "pyproject.toml"))
    project = pyproject.get("project") if isinstance(pyproject.get("project"), dict) else {}
    for dep in project.get("dependencies") or []:
        names |= _dep_names(dep)
    poetry = (pyproject.get("tool") or {}).get("poetry") if isinstance(pyproject.get("tool"), dict) else None
    if isinstance(poetry, dict) and isinstance(poetry.get("dependencies"), dict):
        names |= {normal_name(key) for key in poetry["dependencies"]}
    pipfile = _toml(os.path.join(app_dir, "Pipfile"))
    if isinstance(pipfile.get("packages"), dict):
        names |= {normal_name(key) for key in pipfile["packages"]}
    for lock in ("uv.lock", "poetry.lock"):
        for package in _toml(os.path.join(app_dir, lock)).get("package") or []:
            if isinstance(package, dict) and isinstance(package.get("name"), str):
                names.add(normal_name(package["name"]))
    for requirement in _package_managers().setup_requirements(app_dir):  # setup.cfg / setup.py
        names |= _dep_names(requirement)
    lock_text = _read(os.path.join(app_dir, "Pipfile.lock"))
    if lock_text:
        try:
            default = json.loads(lock_text).get("default") or {}
            names |= {normal_name(key) for key in default if isinstance(key, str)}
        except (ValueError, AttributeError, RecursionError):
            pass
    return names


def project_installed(app_dir: str) -> bool:
    """Whether the build installs the app's own project (so its scripts exist in the image).

    The package manager decides (package_managers.project_build, the rule the install buildpacks
    follow): a pyproject.toml project alone, yes; with requirements.txt only when it lists the app
    itself (`.` or `-e .`, as on Heroku); Poetry unless `package-mode = false`; uv when the project
    is a package; Pipenv when the lock lists the app's own folder.
    """
    if not os.path.isfile(os.path.join(app_dir, "pyproject.toml")):
        return False
    return _package_managers().installs_project(app_dir)


def _package_managers():
    """package_managers.py: beside this file (in a buildpack folder, or in buildpacks/shared)."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.append(here)
    import package_managers

    return package_managers


# -------------------------------------------------------------------------------------- Procfile


def parse_procfile(text: str) -> list[tuple[str, str]]:
    """(type, command) per entry in file order; a repeated type replaces the earlier one."""
    entries: dict[str, str] = {}
    for line in text.splitlines():
        match = _PROCFILE_LINE.match(line.strip())
        if match and match.group(2).strip():
            entries[match.group(1)] = match.group(2).strip()
    return list(entries.items())


def command_list(command: str) -> list[str]:
    """How a Procfile line runs, as Heroku runs it, with the web process getting the signals.

    A plain command (no shell syntax) is exec'ed directly. One command that uses variables,
    quotes or globs runs as `sh -c "exec CMD"`, so $PORT expands and the shell gives way to the
    process. A shell program (`a && b`, `a; b`, pipes, redirections) runs as `sh -c CMD`, whole.
    """
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: let the shell say what is wrong
        return ["/bin/sh", "-c", command]
    if any(token in _SHELL_OPERATORS or set(token) <= set("&|;<>()") for token in tokens):
        return ["/bin/sh", "-c", command]
    if tokens and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]):
        # `VAR=x cmd`: sh's `exec` takes no assignments in front, env(1) does
        return ["/bin/sh", "-c", f"exec env {command}"]
    if set(command) & set("$`*?~{}[]\\'\""):
        return ["/bin/sh", "-c", f"exec {command}"]
    return tokens


# ------------------------------------------------------------------------------------- inference


def s2i_settings(app_dir: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """APP_MODULE / APP_SCRIPT / APP_FILE / APP_CONFIG / APP_HOME from `.s2i/environment`, the
    environment winning."""
    found: dict[str, str] = {}
    for line in (_read(os.path.join(app_dir, ".s2i", "environment")) or "").splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and name in S2I_SETTINGS:
            found[name] = value.strip().strip("\"'")
    for name in S2I_SETTINGS:
        if (environ or {}).get(name):
            found[name] = (environ or {})[name]
    return found


def _module_info(path: str) -> tuple[str | None, bool, bool] | None:
    """(callable name, is ASGI, has a __main__ block) of a Python file, from its syntax tree."""
    text = _read(path)
    if text is None:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    assigned: dict[str, ast.AST] = {}
    imports: set[str] = set()
    has_main, factory = False, False
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            assigned[node.target.id] = node.value
        elif isinstance(node, ast.Import):
            imports |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.add(node.module)
            if node.module.startswith("django.core") and any(
                a.name == "get_wsgi_application" for a in node.names
            ):
                imports.add("django.core.wsgi")
        elif isinstance(node, ast.FunctionDef) and node.name == "create_app":
            factory = True
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in ("app", "application"):
            assigned[node.name] = node  # a plain WSGI function (or callable class) is the app itself
        elif isinstance(node, ast.AsyncFunctionDef) and node.name in ("app", "application"):
            assigned[node.name] = node  # `async def app(scope, receive, send)`: a bare ASGI app
            imports.add("starlette")
        elif (
            isinstance(node, ast.If)
            and "__main__" in ast.dump(node.test)
            and "__name__" in ast.dump(node.test)
        ):
            has_main = True
        elif _does_work(node):
            has_main = True  # top-level code that runs (`main()`, `app.run()`, a loop): a script
    name = next((n for n in ("app", "application") if n in assigned), None)
    if name is None and factory:
        name = "create_app()"
    asgi = any(imp.split(".")[0] in ASGI_FRAMEWORKS or imp in ASGI_FRAMEWORKS for imp in imports)
    value = assigned.get(name or "")
    if isinstance(value, ast.Call):
        func = value.func
        called = (
            func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        )
        if called in ASGI_CLASSES or called == "get_asgi_application":
            asgi = True
        elif called in ("Flask", "get_wsgi_application", "Bottle", "Pyramid"):
            asgi = False
    return name, asgi, has_main


def _does_work(node: ast.stmt) -> bool:
    """A module-level statement that does something when the file runs (not a docstring)."""
    if isinstance(node, ast.Expr):
        return not isinstance(node.value, ast.Constant)
    return isinstance(node, (ast.For, ast.While, ast.With, ast.Try, ast.AsyncFor, ast.AsyncWith))


def _server_command(target: str, asgi: bool, deps: set[str]) -> tuple[str, str] | None:
    """(command, server) that serves `module:callable` on $PORT with a server the app depends on."""
    if asgi:
        if "uvicorn" in deps:
            return f"uvicorn {target} --host 0.0.0.0 --port $PORT", "uvicorn"
        if "gunicorn" in deps and "uvicorn-worker" in deps:
            return f"gunicorn -k uvicorn_worker.UvicornWorker {target}", "gunicorn"
        if "hypercorn" in deps:
            return f"hypercorn {target} --bind 0.0.0.0:$PORT", "hypercorn"
        return None
    if "gunicorn" in deps:
        # gunicorn binds 0.0.0.0:$PORT by itself when PORT is set (and 127.0.0.1:8000 otherwise).
        return f"gunicorn {target}", "gunicorn"
    if "waitress" in deps:
        return f"waitress-serve --listen=0.0.0.0:$PORT {target}", "waitress"
    if "uvicorn" in deps:
        return f"uvicorn --interface wsgi {target} --host 0.0.0.0 --port $PORT", "uvicorn"
    return None


def _project_script(app_dir: str) -> Choice | None:
    if not project_installed(app_dir):
        return None
    data = _toml(os.path.join(app_dir, "pyproject.toml"))
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    for table, where in (
        (project.get("scripts"), "[project.scripts]"),
        (poetry.get("scripts"), "[tool.poetry.scripts]"),
    ):
        if isinstance(table, dict) and table:
            name = str(next(iter(table)))
            if re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                return Choice(name, f"the project's first script in {where} ({name})")
    return None


def _django(app_dir: str, deps: set[str]) -> Choice | None:
    manage = _read(os.path.join(app_dir, "manage.py"))
    if manage is None:
        return None
    match = re.search(r"DJANGO_SETTINGS_MODULE['\"]\s*,\s*['\"]([\w.]+)['\"]", manage)
    wsgi = None
    if match:
        settings = _read(os.path.join(app_dir, *match.group(1).split(".")) + ".py")
        found = re.search(r"^WSGI_APPLICATION\s*=\s*['\"]([\w.]+)['\"]", settings or "", re.M)
        if found:
            module, _, attr = found.group(1).rpartition(".")
            wsgi = f"{module}:{attr}"
    if wsgi and "gunicorn" in deps:
        return Choice(f"gunicorn {wsgi}", f"Django project: gunicorn on its WSGI_APPLICATION ({wsgi})")
    return Choice(
        "python manage.py runserver 0.0.0.0:$PORT --noreload",
        "Django project (manage.py)",
        "Django's development server is not made for production: add gunicorn to the dependencies "
        "(it is then used on the settings' WSGI_APPLICATION), or a Procfile",
    )


def _callable(app_dir: str, deps: set[str]) -> Choice | NoProcess | None:
    for file_name in CALLABLE_FILES:
        info = _module_info(os.path.join(app_dir, file_name))
        if info is None or info[0] is None:
            continue
        name, asgi, has_main = info
        target = f"{file_name[:-3]}:{name}"
        served = _server_command(target, asgi, deps)
        kind = "ASGI" if asgi else "WSGI"
        if served:
            command, server = served
            return Choice(command, f"{kind} callable {target}, served by {server}")
        if has_main:
            return Choice(
                f"python {file_name}", f"{file_name} defines {kind} callable {name} and runs itself"
            )
        server = "uvicorn" if asgi else "gunicorn"
        return NoProcess(
            f"{file_name} defines the {kind} callable {target} but nothing serves it: add {server} to the "
            f"dependencies, or a Procfile such as `web: {server} {target}`"
        )
    return None


def _setup_project_module(app_dir: str, deps: set[str]) -> Choice | None:
    """s2i's rule after wsgi.py: gunicorn on the module named as the setup.py project, when it
    defines a WSGI callable (s2i runs `gunicorn <name>`, whose default callable is `application`)."""
    if "gunicorn" not in deps:
        return None
    module = re.sub(r"[-.]", "_", _package_managers().setup_project_name(app_dir))
    if not module.isidentifier():
        return None
    for path in (os.path.join(app_dir, f"{module}.py"), os.path.join(app_dir, module, "__init__.py")):
        info = _module_info(path)
        if info is not None and info[0] is not None and not info[1]:
            target = f"{module}:{info[0]}"
            return Choice(f"gunicorn {target}", f"the setup.py project's module ({target}), as s2i runs it")
    return None


def _runs_itself(app_dir: str) -> Choice | None:
    for file_name in SCRIPT_FILES:
        info = _module_info(os.path.join(app_dir, file_name))
        if info is not None and (info[2] or file_name == "__main__.py"):
            return Choice(f"python {file_name}", f'{file_name} runs itself (`if __name__ == "__main__"`)')
    for top in ("", "src"):
        folder = os.path.join(app_dir, top)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if name.isidentifier() and os.path.isfile(os.path.join(folder, name, "__main__.py")):
                prefix = "PYTHONPATH=src " if top else ""
                return Choice(f"{prefix}python -m {name}", f"package {name} has a __main__.py")
    script = os.path.join(app_dir, "app.sh")
    if os.path.isfile(script) and os.access(script, os.X_OK):
        return Choice("./app.sh", "app.sh (s2i's APP_SCRIPT default)")
    return None


def _gunicorn_config(app_dir: str, deps: set[str]) -> Choice | None:
    """s2i's first rule: a gunicorn.conf.py that names the app (`wsgi_app`) is all gunicorn needs."""
    if "gunicorn" not in deps:
        return None
    text = _read(os.path.join(app_dir, "gunicorn.conf.py"))
    if text is None or not re.search(r"^wsgi_app\s*=", text, re.M):
        return None
    return Choice("gunicorn", "gunicorn.conf.py names the app (wsgi_app), as s2i runs it")


def _s2i(settings: dict[str, str]) -> Choice | None:
    config = f" --config {shlex.quote(settings['APP_CONFIG'])}" if settings.get("APP_CONFIG") else ""
    if settings.get("APP_SCRIPT"):
        return Choice(f"./{settings['APP_SCRIPT'].lstrip('./')}", "APP_SCRIPT names it")
    if settings.get("APP_FILE"):
        return Choice(f"python {shlex.quote(settings['APP_FILE'])}", "APP_FILE names it")
    if settings.get("APP_MODULE"):
        return Choice(f"gunicorn {shlex.quote(settings['APP_MODULE'])}{config}", "APP_MODULE names it (s2i)")
    return None


def infer_process(app_dir: str, environ: dict[str, str] | None = None) -> Choice | NoProcess:
    """The web process of an app without a Procfile, or what to add when there is none."""
    settings = s2i_settings(app_dir, environ)
    home = settings.get("APP_HOME", "").strip().rstrip("/") or "."
    if home == ".":
        return _infer(app_dir, app_dir, settings)
    folder = os.path.normpath(os.path.join(app_dir, home))
    inside = (os.path.realpath(folder) + os.sep).startswith(os.path.realpath(app_dir) + os.sep)
    if os.path.isabs(home) or not inside or not os.path.isdir(folder):
        return NoProcess(f"APP_HOME={home} (s2i) is not a folder of the app; name one, e.g. APP_HOME=src")
    chosen = _infer(app_dir, folder, settings)
    if isinstance(chosen, Choice):
        rel = os.path.relpath(folder, app_dir)
        command = chosen.command
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", command):
            command = f"env {command}"  # sh's `exec` takes no assignments in front
        path = 'export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"'  # s2i keeps the root importable
        chosen.command = f"{path} && cd {shlex.quote(rel)} && exec {command}"
        chosen.reason += f", in APP_HOME {rel} (s2i)"
    return chosen


def _infer(app_dir: str, where: str, settings: dict[str, str]) -> Choice | NoProcess:
    """Inference for the app in `app_dir`, its files looked for in `where` (APP_HOME, else app_dir)."""
    deps = declared_packages(app_dir)
    chosen = (
        _s2i(settings) or _gunicorn_config(where, deps) or _project_script(app_dir) or _django(where, deps)
    )
    if chosen is not None:
        return chosen
    served = _callable(where, deps)
    if isinstance(served, Choice):
        return served
    named = _setup_project_module(app_dir, deps)
    if named is not None:
        return named
    # A callable nothing serves (NoProcess) still loses to another script that runs itself.
    fallback = _runs_itself(where)
    if fallback is not None:
        return fallback
    return served or NoProcess(
        "add a Procfile (e.g. `web: gunicorn app:app`), a [project.scripts] entry, a WSGI/ASGI callable "
        "`app` in app.py or main.py with gunicorn/uvicorn in the dependencies, or a script with "
        '`if __name__ == "__main__":`'
    )


def procfile_uses_missing_python(commands: list[str]) -> bool:
    """Whether a command runs `python` (not `python3`), first or after `&&`, `;` or `exec`: bases
    with only python3 need a link for it."""
    starts = r"(?:^|&&|\|\||;)\s*(?:exec\s+)?(?:env\s+)?(?:\S+=\S*\s+)*python(?:\s|$)"
    return any(re.search(starts, command) for command in commands)
