"""Django's `collectstatic` at build time, as Heroku's Python buildpack runs it (docs/django.md).

Standard library only; the install buildpacks call `run(app_dir, layer)` once their dependency
layer (a virtual environment) is ready, as Heroku runs its collectstatic step after installing.

Heroku's rules (heroku-buildpack-python bin/steps/collectstatic; the CNB's src/django.rs):
  - `DISABLE_COLLECTSTATIC` set to anything but `0` skips it (build env: `--env`, project.toml);
  - Django must be installed in the dependencies, and a `manage.py` found (the shallowest within
    three levels of the app folder, as Heroku's `find -maxdepth 3` does);
  - `django.contrib.staticfiles` not installed: skipped (as the CNB does for "Unknown command");
  - it runs `python manage.py collectstatic --noinput` from the app folder with PYTHONPATH `.`,
    and a failure fails the build with the command's output.
boxwise adds one rule the issue asks for: no STATIC_ROOT in the settings skips it (Heroku runs it
and fails: "You're using the staticfiles app without having set the STATIC_ROOT setting"), so a
Django API that serves no static files builds. A STATIC_ROOT outside the app folder is skipped
with a warning: the image keeps only what is under the app folder.

The settings are read by running manage.py itself with Django's command runner replaced by a probe
(so whatever manage.py sets up, such as DJANGO_SETTINGS_MODULE or sys.path, is set up as for the
real command); a settings module that cannot be imported fails the build as collectstatic would.

The platform learns what the step wrote: when it sets BOXWISE_APP_STEPS (a file), the step adds
one JSON line {"step": "collectstatic", "writes": "<STATIC_ROOT or empty>"} as soon as Django is
installed, whether or not it runs (its outcome depends on the app's code and env, not on the
dependency layer's key).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

STEP = "collectstatic"
# The build-log line that says collectstatic failed (the platform turns it into its one line).
FAILED_MARK = "ERROR: [collectstatic] "
# The platform's file the step reports to (a JSON line per step).
STEPS_ENV = "BOXWISE_APP_STEPS"
_PROBE_MARK = "boxwise-collectstatic-probe: "
_SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", "node_modules", ".tox", ".hg"}
_MAX_DEPTH = 3

# Runs manage.py as `python manage.py collectstatic --noinput` would, until Django's command runner
# starts: there it loads the settings and prints what the step needs instead of running a command.
_PROBE = """
import json, os, runpy, sys
manage = sys.argv[1]
sys.argv = [manage, "collectstatic", "--noinput"]
sys.path[0] = os.path.dirname(os.path.abspath(manage))
from django.core import management

def probe(self=None):
    import django
    from django.apps import apps
    from django.conf import settings
    django.setup()
    staticfiles = apps.is_installed("django.contrib.staticfiles")
    root = getattr(settings, "STATIC_ROOT", None) if staticfiles else None
    found = {"staticfiles": staticfiles, "static_root": os.path.abspath(os.fspath(root)) if root else ""}
    print(MARK + json.dumps(found), flush=True)
    raise SystemExit(0)

management.ManagementUtility.execute = probe
runpy.run_path(manage, run_name="__main__")
"""


def disabled(env: dict[str, str]) -> bool:
    """Heroku's test: DISABLE_COLLECTSTATIC set to anything but 0 (an empty value is unset)."""
    return env.get("DISABLE_COLLECTSTATIC", "0").strip() not in ("", "0")


def django_installed(layer: str) -> bool:
    import pylayer  # here: boxwise loads this file on the host for FAILED_MARK alone

    return os.path.isfile(os.path.join(pylayer.site_dir(layer), "django", "__init__.py"))


def manage_file(app_dir: str) -> str | None:
    """manage.py relative to the app: the shallowest regular file within three levels, then by path."""
    found: list[tuple[int, str]] = []
    for here, dirs, files in os.walk(app_dir):
        rel_here = os.path.relpath(here, app_dir)
        depth = 0 if rel_here == "." else rel_here.count(os.sep) + 1
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS) if depth + 1 < _MAX_DEPTH else []
        if "manage.py" in files:
            path = os.path.join(here, "manage.py")
            if os.path.isfile(path) and not os.path.islink(path):
                found.append((depth, os.path.normpath(os.path.join(rel_here, "manage.py"))))
    return min(found)[1] if found else None


def _python(layer: str) -> str:
    import pylayer

    python = os.path.join(layer, "bin", "python")
    return python if os.path.exists(python) else pylayer.base_python()


def _env(layer: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", VIRTUAL_ENV=layer)
    env["PATH"] = os.path.join(layer, "bin") + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = env.get("PYTHONPATH") or "."  # as Heroku: the app folder is importable
    return env


def _report(root: str) -> None:
    target = os.environ.get(STEPS_ENV, "")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"step": STEP, "writes": root}) + "\n")


def _stream(command: list[str], app_dir: str, env: dict[str, str]) -> tuple[int, list[str]]:
    """Run `command` in the app folder; its merged output (echoed to the build log); (exit, lines)."""
    lines: list[str] = []
    merged = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "errors": "replace"}
    with subprocess.Popen(command, cwd=app_dir, env=env, **merged) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            if line.strip() and not line.startswith(_PROBE_MARK):
                print(f"  {line}", flush=True)
    return process.returncode, lines


def _failed(manage: str, code: int) -> None:
    print(
        f"{FAILED_MARK}{manage}: `python {manage} collectstatic --noinput` failed (exit {code})", flush=True
    )
    sys.exit(1)


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path != folder and os.path.commonpath([path, folder]) == folder


def run(app_dir: str, layer: str) -> None:
    """Collect the static files of a Django app into its STATIC_ROOT, or say why not."""
    if not django_installed(layer):
        return
    _report("")  # Django is installed: whether it runs depends on the app, not on the layer's key
    if disabled(dict(os.environ)):
        print("collectstatic: skipped: DISABLE_COLLECTSTATIC is set", flush=True)
        return
    manage = manage_file(app_dir)
    if manage is None:
        print("collectstatic: skipped: Django is installed but no manage.py was found", flush=True)
        return
    python, env = _python(layer), _env(layer)
    print(f"$ python {manage} collectstatic --noinput", flush=True)
    code, lines = _stream([python, "-c", _PROBE.replace("MARK", repr(_PROBE_MARK)), manage], app_dir, env)
    if code != 0:  # the settings do not load: collectstatic would fail the same way
        _failed(manage, code)
    found = next((line[len(_PROBE_MARK) :] for line in lines if line.startswith(_PROBE_MARK)), None)
    if found is not None:
        probe = json.loads(found)
        if not probe.get("staticfiles"):
            print("collectstatic: skipped: django.contrib.staticfiles is not in INSTALLED_APPS", flush=True)
            return
        root = str(probe.get("static_root") or "")
        if not root:
            print(
                "collectstatic: skipped: the settings set no STATIC_ROOT (nowhere to collect to)", flush=True
            )
            return
        if not _inside(root, app_dir):
            print(
                f"WARNING: collectstatic: skipped: STATIC_ROOT {root} is outside the app folder "
                f"{app_dir}, so its files would not be in the image; set it inside (BASE_DIR / "
                '"staticfiles"), or DISABLE_COLLECTSTATIC=1 to silence this',
                flush=True,
            )
            return
        _report(root)
    else:  # manage.py never reached Django's command runner: run the command as Heroku would,
        _report(app_dir)  # and whatever it writes anywhere in the app folder is kept
    code, _ = _stream([python, manage, "collectstatic", "--noinput"], app_dir, env)
    if code != 0:
        _failed(manage, code)
