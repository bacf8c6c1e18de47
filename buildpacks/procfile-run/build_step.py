"""procfile-run's build: one launch process per Procfile entry; `web` is the default, else the first.

Without a Procfile (the platform runs this step as its fallback when no buildpack declared a
process) the app runs as its module: the first `[project.scripts]` entry, else what
`detect_rule.default_process` finds (`python3 -m <package>` or a top-level script). When nothing
can be started the build fails and says what to add.
"""

from __future__ import annotations

import os
import re
import shlex

import pylayer
from detect_rule import default_process

_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")
# A command using any of these needs a shell; anything else runs directly (no shell in between).
_SHELL_CHARS = set("$&|;<>()`*?~{}\\")


def parse_procfile(text: str) -> list[tuple[str, str]]:
    """(type, command) per entry in file order; a repeated type replaces the earlier one."""
    entries: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            entries[match.group(1)] = match.group(2).strip()
    return list(entries.items())


def command_list(command: str) -> list[str]:
    if _SHELL_CHARS & set(command):
        return ["/bin/sh", "-c", f"exec {command}"]
    try:
        return shlex.split(command)
    except ValueError:
        return ["/bin/sh", "-c", f"exec {command}"]


def module_process(app_dir: str) -> tuple[list[str], str] | None:
    data = pylayer.read_toml(os.path.join(app_dir, "pyproject.toml"))
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    scripts = project.get("scripts") or {}
    if scripts:
        name = next(iter(scripts))
        return [name], f"the first [project.scripts] entry ({name})"
    args = default_process(app_dir)
    if args:
        return ["python3", *args], "python3 " + " ".join(args)
    return None


def build(app_dir: str, layers_dir: str) -> None:
    procfile = os.path.join(app_dir, "Procfile")
    processes = []
    if os.path.isfile(procfile):
        with open(procfile, encoding="utf-8", errors="replace") as handle:
            entries = parse_procfile(handle.read())
        if not entries:
            pylayer.fail("Procfile: no `type: command` line; add one such as `web: python3 app.py`")
        types = [kind for kind, _ in entries]
        default = "web" if "web" in types else types[0]
        for kind, command in entries:
            processes.append({"type": kind, "command": command_list(command), "default": kind == default})
            print(f"process {kind}: {command}" + (" (default)" if kind == default else ""), flush=True)
    else:
        found = module_process(app_dir)
        if found is None:
            pylayer.fail(
                "nothing to start: add a Procfile (e.g. `web: python3 app.py`), a [project.scripts] "
                "entry in pyproject.toml, or a package with a __main__.py"
            )
        command, why = found
        processes.append({"type": "web", "command": command, "default": True})
        print(f"no Procfile: the app runs as {why}", flush=True)
    with open(os.path.join(layers_dir, "launch.toml"), "w", encoding="utf-8") as handle:
        handle.write(pylayer.toml_dumps({"processes": processes}))
