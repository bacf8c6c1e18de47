"""Run the `run:` steps of a composite action.yml the way a GitHub runner does, on this machine.

Expressions are substituted as the runner would for the few contexts the action uses
(`inputs.*`, `github.action_path`, `github.token`, `github.repository`, `github.actor`,
`github.event.repository.default_branch`, `steps.<id>.outputs.*`, `a || 'literal'`, and
in `if:` `always()` or `==`/`!=` against a literal); any other expression fails the test, so the
action cannot silently depend on something not emulated. Each `run:` step runs as `bash --noprofile
--norc -eo pipefail` with the runner's files (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH,
GITHUB_STEP_SUMMARY) and GITHUB_PATH/GITHUB_ENV carried to the later steps. After a failed step
only `if: always()` steps run, as on a runner. A `uses:` step (an action from the Marketplace,
which cannot be fetched here) runs through the stand-in the test hands the runner for it (a
function of its `with:` giving the step's outputs); without one it is logged, not run, and its
outputs are empty.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Runner:
    """One job's worth of runner state: its files, environment and step outputs."""

    workspace: Path
    temp: Path
    action_path: Path
    token: str
    env: dict[str, str]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    path_additions: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    # `owner/name` of an action a step `uses:` -> a stand-in: (runner, its `with:`) -> its outputs
    actions: dict[str, Callable[[Runner, dict[str, str]], dict[str, str]]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)  # the names of the steps that ran, in order

    def file(self, name: str) -> Path:
        path = self.temp / "_runner_file_commands" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return path


def load_action(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


LITERAL = re.compile(r"'((?:[^']|'')*)'")


def _evaluate(expression: str, runner: Runner, inputs: dict[str, str]) -> str:
    if " || " in expression:  # the first operand that is not empty, as the runner's `||` on strings
        values = [_evaluate(part.strip(), runner, inputs) for part in expression.split(" || ")]
        return next((value for value in values if value), values[-1])
    if match := LITERAL.fullmatch(expression):
        return match.group(1).replace("''", "'")
    if expression == "github.action_path":
        return str(runner.action_path)
    if expression == "github.token":
        return runner.token
    if expression in ("github.repository", "github.actor"):  # what the runner sets from the event
        return runner.env.get(f"GITHUB_{expression.split('.')[1].upper()}", "")
    if expression == "github.event.repository.default_branch":
        return _event_value(runner, "repository", "default_branch")
    if match := re.fullmatch(r"inputs\.([\w-]+)", expression):
        return inputs[match.group(1)]
    if match := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression):
        return runner.outputs.get(match.group(1), {}).get(match.group(2), "")
    raise AssertionError(f"action.yml uses an expression the test runner does not emulate: {expression}")


def _event_value(runner: Runner, *keys: str) -> str:
    """A value of the event payload (GITHUB_EVENT_PATH), "" when the event has none."""
    import json

    path = runner.env.get("GITHUB_EVENT_PATH")
    value: Any = json.loads(Path(path).read_text()) if path else {}
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return str(value) if value is not None else ""


def substitute(text: str, runner: Runner, inputs: dict[str, str]) -> str:
    return EXPRESSION.sub(lambda m: _evaluate(m.group(1), runner, inputs), text)


def condition(step: dict[str, Any], runner: Runner, inputs: dict[str, str]) -> bool:
    """A step's `if:`: absent, or `X == 'v'` / `X != 'v'` (case-insensitive, as the runner compares)."""
    text = str(step.get("if", "")).strip()
    if not text:
        return True
    text = EXPRESSION.fullmatch(text).group(1) if EXPRESSION.fullmatch(text) else text
    if text == "always()":
        return True
    match = re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", text)
    assert match, f"step condition not emulated: {text}"
    left, right = (_evaluate(side.strip(), runner, inputs).lower() for side in (match[1], match[3]))
    return (left == right) == (match[2] == "==")


def resolve_inputs(action: dict[str, Any], given: dict[str, str], runner: Runner) -> dict[str, str]:
    unknown = set(given) - set(action["inputs"])
    assert not unknown, f"inputs not declared in action.yml: {sorted(unknown)}"
    resolved = {}
    for name, spec in action["inputs"].items():
        default = str(spec.get("default", ""))
        resolved[name] = given.get(name, substitute(default, runner, {}))
    return resolved


def _parse_file_command(text: str) -> dict[str, str]:
    """`name=value` and `name<<DELIM ... DELIM` lines, as in GITHUB_OUTPUT and GITHUB_ENV."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            index += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def use_action(step: dict[str, Any], runner: Runner, inputs: dict[str, str]) -> None:
    """A `uses:` step through the test's stand-in for that action."""
    name = step["uses"].split("@", 1)[0]
    if name not in runner.actions:
        runner.logs.append(f"$ {step.get('name', step['uses'])}: uses {step['uses']} (not run here)")
        runner.outputs[step.get("id", step["uses"])] = {}
        return
    # YAML booleans reach an action as the strings the runner makes of them: "true", "false".
    scalar = {True: "true", False: "false"}
    given = {
        key: substitute(
            scalar.get(value, str(value)) if isinstance(value, bool) else str(value), runner, inputs
        )
        for key, value in step.get("with", {}).items()
    }
    outputs = runner.actions[name](runner, given)
    runner.logs.append(f"$ {step.get('name', name)} (stand-in for {name})")
    if step.get("id"):
        runner.outputs[step["id"]] = outputs


def run_step(
    step: dict[str, Any], runner: Runner, inputs: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    assert step.get("shell") == "bash", "every run step of a composite action needs `shell: bash`"
    script = substitute(step["run"], runner, inputs)
    output, github_env = runner.file(f"output-{len(runner.logs)}"), runner.file("env")
    step_env = {key: substitute(str(value), runner, inputs) for key, value in step.get("env", {}).items()}
    env = {
        **runner.env,
        **_parse_file_command(github_env.read_text()),
        **step_env,
        "GITHUB_OUTPUT": str(output),
        "GITHUB_ENV": str(github_env),
        "GITHUB_PATH": str(runner.file("path")),
        "GITHUB_STEP_SUMMARY": str(runner.file("step_summary")),
        "GITHUB_ACTION_PATH": str(runner.action_path),
        "GITHUB_WORKSPACE": str(runner.workspace),
        "RUNNER_TEMP": str(runner.temp),
    }
    added = [line for line in runner.file("path").read_text().splitlines() if line]
    env["PATH"] = os.pathsep.join([*reversed(added), runner.env["PATH"]])
    script_file = runner.temp / f"step-{len(runner.logs)}.sh"
    script_file.write_text(script)
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
        cwd=runner.workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    runner.logs.append(f"$ {step.get('name', step.get('id', 'step'))}\n{result.stdout}{result.stderr}")
    if step.get("id"):
        runner.outputs[step["id"]] = _parse_file_command(output.read_text())
    return result


def step_index(action: dict[str, Any], step_id: str) -> int:
    return next(n for n, step in enumerate(action["runs"]["steps"]) if step.get("id") == step_id)


def run_action(
    action: dict[str, Any],
    runner: Runner,
    given: dict[str, str],
    first_step: int = 0,
    until: int | None = None,
) -> dict[str, str]:
    """Run the action's steps `first_step` to `until` (exclusive; default all); its outputs, as the
    workflow would see them."""
    inputs = resolve_inputs(action, given, runner)
    failed = 0
    for step in action["runs"]["steps"][first_step:until]:
        if failed and "always()" not in str(step.get("if", "")):
            continue
        if not condition(step, runner, inputs):
            continue
        runner.ran.append(step.get("name", step.get("id", "step")))
        if "uses" in step:
            use_action(step, runner, inputs)
            continue
        failed = failed or run_step(step, runner, inputs).returncode
    if failed:
        raise StepFailed(failed, "\n".join(runner.logs))
    return {name: substitute(spec["value"], runner, inputs) for name, spec in action["outputs"].items()}


class StepFailed(Exception):
    def __init__(self, code: int, log: str) -> None:
        super().__init__(f"step exited {code}\n{log}")
        self.code = code
        self.log = log
