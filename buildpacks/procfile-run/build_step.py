"""procfile-run's build: one launch process per Procfile entry; `web` is the default, else the first.

Without a Procfile (the platform runs this step as its fallback when no buildpack declared a
process) the web process is inferred by processes.infer_process, the same function
`boxwise detect` uses, and the build prints what it chose and why. When nothing can be started
the build fails and says what to add.

A Procfile line runs as Heroku runs it (processes.command_list): through a shell when it needs
one, exec'ed when it is one command. A command that starts `python` on a build image that has only
`python3` gets a small launch layer `python` whose bin/ links python → python3.
"""

from __future__ import annotations

import os
import shutil

import processes
import pylayer
import pyversion


def procfile_processes(path: str) -> list[tuple[str, str, bool]]:
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        entries = processes.parse_procfile(handle.read())
    if not entries:
        pylayer.fail("Procfile: no `type: command` line; add one such as `web: gunicorn app:app`")
    types = [kind for kind, _ in entries]
    default = "web" if "web" in types else types[0]
    for kind, command in entries:
        print(f"process {kind}: {command}" + (" (default)" if kind == default else ""), flush=True)
    return [(kind, command, kind == default) for kind, command in entries]


def inferred_process(app_dir: str, environ: dict[str, str] | None = None) -> list[tuple[str, str, bool]]:
    choice = processes.infer_process(app_dir, dict(os.environ) if environ is None else environ)
    if isinstance(choice, processes.NoProcess):
        pylayer.fail(f"nothing to start: {choice.hint}")
    print(f"no Procfile: web process `{choice.command}` ({choice.reason})", flush=True)
    if choice.warning:
        print(f"WARNING: {choice.warning}", flush=True)
    return [("web", choice.command, True)]


def python_link_layer(layers_dir: str, commands: list[str]) -> None:
    """`python` for commands that say so, when the build image has only `python3`."""
    if not processes.procfile_uses_missing_python(commands) or shutil.which("python"):
        return
    python3 = shutil.which("python3")
    if not python3:
        return
    layer = os.path.join(layers_dir, "python")
    os.makedirs(os.path.join(layer, "bin"), exist_ok=True)
    os.symlink(python3, os.path.join(layer, "bin", "python"))
    pylayer.write_layer_toml(
        layers_dir, "python", {"launch": True, "build": False, "cache": False}, {"python3": python3}
    )
    print(f"the base has no `python`, only python3: added a launch layer linking it ({python3})", flush=True)


def found_processes(app_dir: str, environ: dict[str, str] | None = None) -> list[tuple[str, str, bool]]:
    """(type, command line, default?) from the Procfile, else inferred."""
    procfile = os.path.join(app_dir, "Procfile")
    return procfile_processes(procfile) if os.path.isfile(procfile) else inferred_process(app_dir, environ)


def launch_processes(found: list[tuple[str, str, bool]]) -> list[dict]:
    return [
        {"type": kind, "command": processes.command_list(command), "default": default}
        for kind, command, default in found
    ]


def outcome(app_dir: str, facts: dict[str, str], environ: dict[str, str]) -> dict:
    """What this build leaves that depends on the app, for the platform's host-side fast path: the
    processes, and the command lines (whether the `python` link layer is made depends on them and
    on the build image alone). An unchanged outcome means build() writes the same launch.toml."""
    found = found_processes(app_dir, environ)
    return {"processes": launch_processes(found), "commands": [command for _, command, _ in found]}


def build(app_dir: str, layers_dir: str) -> None:
    pyversion.check_build_python(app_dir)  # an app with no dependencies asks too
    found = found_processes(app_dir)
    python_link_layer(layers_dir, [command for _, command, _ in found])
    pylayer.write_toml(os.path.join(layers_dir, "launch.toml"), {"processes": launch_processes(found)})
